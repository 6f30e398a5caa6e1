"""Scoped API tokens: created and revoked by ``mintloom tokens``, only read by the API.

A token's secret (``mlt_`` + 32 random bytes, urlsafe base64) is shown once when created; the
table keeps only its sha-256. A request's token is found by the hash of what it presents, so the
secret is never compared byte by byte (and the digests that are compared use ``compare_digest``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast, get_args

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mintloom.errors import TokenError
from mintloom.store.db import Base, Database
from mintloom.store.files import is_safe_name

Scope = Literal["read", "review", "publish", "admin", "render"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
PREFIX = "mlt_"
IMPLIES: dict[Scope, frozenset[Scope]] = {
    "read": frozenset({"read"}),
    "review": frozenset({"review", "read"}),
    "publish": frozenset({"publish", "read"}),
    "admin": frozenset({"admin", "publish", "review", "read"}),
    "render": frozenset({"render"}),
}
"""What each scope grants: admin ⊇ publish, review ⊇ read. ``render`` (handed to ad servers)
stands apart: it grants nothing else, and no other scope grants it."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scopes: Mapped[str] = mapped_column(String(64))
    """Space-separated, sorted."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class TokenInfo:
    """A token without its secret: what may be listed."""

    name: str
    scopes: frozenset[Scope]
    created_at: dt.datetime
    revoked: bool

    def grants(self, scope: Scope) -> bool:
        """Whether one of the token's scopes implies ``scope`` (:data:`IMPLIES`)."""
        return any(scope in IMPLIES[s] for s in self.scopes)


def parse_scopes(raw: Iterable[str]) -> frozenset[Scope]:
    """Known scopes only (at least one); :class:`TokenError` otherwise."""
    scopes = frozenset(raw)
    unknown = sorted(scopes - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"unknown or missing scope(s): {', '.join(unknown) or 'none given'}",
                         hint=f"scopes are {', '.join(SCOPES)}")  # fmt: skip
    return cast(frozenset[Scope], scopes)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _info(row: ApiTokenRow) -> TokenInfo:
    scopes = cast(frozenset[Scope], frozenset(row.scopes.split()))
    return TokenInfo(row.name, scopes, row.created_at, row.revoked_at is not None)


class TokenStore:
    """The ``api_tokens`` table (writes: the CLI; reads: :meth:`authenticate`, the API)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str, scopes: Iterable[str]) -> tuple[TokenInfo, str]:
        """A new token and its secret (shown once: only its hash is stored)."""
        if not is_safe_name(name):
            raise TokenError(f"invalid token name {name!r}", hint="letters, digits, '.', '_', '-' (max 64)")
        wanted = parse_scopes(scopes)
        secret = PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        with self.db.session() as s:
            if s.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name)) is not None:
                raise TokenError(f"a token named {name!r} exists", hint="revoke it or choose another name")
            row = ApiTokenRow(name=name, secret_sha256=hash_secret(secret), scopes=" ".join(sorted(wanted)))
            s.add(row)
            s.flush()
            return _info(row), secret

    def list(self) -> list[TokenInfo]:
        with self.db.session() as s:
            return [_info(r) for r in s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))]

    def revoke(self, name: str) -> TokenInfo:
        with self.db.session() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.name == name))
            if row is None:
                raise TokenError(f"no token named {name!r}", hint="see `mintloom tokens list`")
            if row.revoked_at is None:
                row.revoked_at = _now()
            return _info(row)

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The live (not revoked) token whose secret this is, else None. Reads only."""
        if not secret.startswith(PREFIX) or len(secret) > 128:
            return None
        return self.by_digest(hash_secret(secret))

    def by_digest(self, digest: str) -> TokenInfo | None:
        """The live token whose secret hashes to ``digest`` (a studio session keeps only the
        hash, so a revoked token ends its sessions too), else None. Reads only."""
        if len(digest) != 64:
            return None
        with self.db.session() as s:
            row = s.scalar(select(ApiTokenRow).where(ApiTokenRow.secret_sha256 == digest))
            if row is None or not hmac.compare_digest(row.secret_sha256, digest) or row.revoked_at:
                return None
            return _info(row)
