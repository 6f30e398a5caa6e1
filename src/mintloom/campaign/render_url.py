"""Signed render URLs: ``GET /campaigns/{campaign}/render?<variables>&format=..&exp=..&sig=..`` for
ad servers that can only fetch a URL. ``sig`` is an HMAC-SHA256, under the workspace's render-URL
key, of the campaign and the canonical query (every parameter but ``sig``, sorted); ``exp`` (Unix
seconds) ends its validity. Whoever holds the key (``mintloom render-url``) issues URLs."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

from mintloom.errors import ConfigError, RenderURLError
from mintloom.faults import crash_point
from mintloom.store.files import remove_dead_writers_tmp, sync_files

KEY_FILE = "render-url.key"


def url_key(state_dir: Path, *, create: bool = True) -> bytes:
    """The workspace's render-URL key (32 random bytes, made on first use, readable by its owner
    only). A server only reads it (``create=False``): checking a URL never writes."""
    path = state_dir / KEY_FILE
    if create and path.is_file() and not path.is_symlink() and path.stat().st_size == 0:
        # the empty key an earlier version left when killed mid-write: nothing was ever signed
        # with it, so it is replaced (a reader still refuses it, and writes nothing)
        path.unlink(missing_ok=True)
    if not path.is_file():
        if not create:
            raise RenderURLError("this workspace has issued no render URL (it has no render-URL key)",
                                 hint="issue one with `mintloom render-url`")  # fmt: skip
        _make_key(path)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the render-URL key {path}: {exc.strerror or exc}") from exc
    if len(key) != 32:
        raise ConfigError(f"the render-URL key {path} is damaged", hint="delete it: new URLs get a new key")
    return key


def _make_key(path: Path) -> None:
    """Write a key to a temp file, make it durable, then hard-link it in: the key appears whole or
    not at all (a kill leaves only a temp file, removed by the next maker), and of two racing
    makers the first link wins."""
    remove_dead_writers_tmp([path])
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
        crash_point("render-url.key")
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(tmp, path)
        sync_files([path])
    except OSError as exc:
        raise ConfigError(f"cannot write the render-URL key {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    """Every parameter but ``sig``, sorted by name then value, URL-encoded."""
    return urlencode(sorted((k, v) for k, v in params if k != "sig"))


def signature(key: bytes, campaign: str, params: Sequence[tuple[str, str]]) -> str:
    message = f"{campaign}\n{canonical_query(params)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_query(key: bytes, campaign: str, params: Sequence[tuple[str, str]], ttl: int) -> str:
    """The query string of a signed URL valid for ``ttl`` seconds."""
    full = [*(p for p in params if p[0] not in ("exp", "sig")), ("exp", str(int(time.time()) + ttl))]
    return f"{canonical_query(full)}&sig={signature(key, campaign, full)}"


def check_query(key: bytes, campaign: str, params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request's parameters without ``exp`` and ``sig``, if its signature holds and it has
    not expired; :class:`RenderURLError` otherwise."""
    sigs = [v for k, v in params if k == "sig"]
    exps = [v for k, v in params if k == "exp"]
    if len(sigs) != 1 or len(exps) != 1:
        raise RenderURLError(
            "a render URL needs exactly one exp and one sig", hint="issue one with `mintloom render-url`"
        )
    if not hmac.compare_digest(sigs[0].encode(), signature(key, campaign, params).encode()):
        raise RenderURLError("the render URL's signature does not match (forged or altered)",
                             hint="issue one with `mintloom render-url`")  # fmt: skip
    if not exps[0].isdigit() or int(exps[0]) < time.time():
        raise RenderURLError("the render URL has expired", hint="issue a new one with `mintloom render-url`")
    return [(k, v) for k, v in params if k not in ("exp", "sig")]
