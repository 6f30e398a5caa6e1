"""The blob store on an S3-compatible object store (AWS S3, MinIO, Ceph, R2...), ``mintloom[s3]``.

Configured by URL (``s3://bucket/prefix``) and an optional ``endpoint_url``; credentials come from
the environment only (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or boto3's usual chain),
never from the workspace config. Keys follow the local flatfs layout under the prefix
(``prefix/<2 chars>/<cid>``). A write of a CID already stored sends nothing (content addressing
makes it idempotent); reads are checked against the CID. Large blobs move in bounded memory:
multipart uploads (from a file, unread into memory), reads streamed in chunks.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mintloom.errors import BlobError, ConfigError
from mintloom.store.blobs import corrupted, missing
from mintloom.store.cid import CHUNK_SIZE, cid_for, cid_for_file, cid_matches, parse_cid
from mintloom.types import CID

MULTIPART_BYTES = 8 * 1024 * 1024
"""Above this, uploads go in parts of this size (S3's minimum part is 5 MiB)."""
UPLOAD_THREADS = 2
"""Parts in flight at once: memory stays near ``UPLOAD_THREADS`` x ``MULTIPART_BYTES``."""
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3BlobStore:
        """The store of ``s3://bucket/prefix`` (boto3 reads the credentials from the environment)."""
        bucket, prefix = parse_s3_url(url)
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise ConfigError(
                f"blobs.url {url} needs boto3", hint="install the S3 extra: pip install 'mintloom[s3]'"
            ) from exc
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"})
        session = boto3.session.Session()  # its own: credentials read from the environment now
        return cls(session.client("s3", endpoint_url=endpoint_url, config=config), bucket, prefix)

    def key(self, cid: str) -> str:
        c = parse_cid(cid)
        return "/".join(p for p in (self.prefix, c[-3:-1], c) if p)

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def put(self, data: bytes) -> CID:
        cid = cid_for(data)
        if not self.has(cid):
            self._upload(cid, io.BytesIO(data))
        return cid

    def put_many(self, datas: Sequence[bytes]) -> list[CID]:
        """Each uploaded on its own (an object store has no shared flush to batch)."""
        return [self.put(d) for d in datas]

    def put_file(self, path: Path) -> CID:
        cid = cid_for_file(path)
        if not self.has(cid):
            with path.open("rb") as f:
                self._upload(cid, f)
        return cid

    def _upload(self, cid: CID, body: io.BufferedIOBase | Any) -> None:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(
            multipart_threshold=MULTIPART_BYTES,
            multipart_chunksize=MULTIPART_BYTES,
            max_concurrency=UPLOAD_THREADS,
        )
        transfer.max_in_memory_upload_chunks = UPLOAD_THREADS  # s3transfer reads ahead 10 by default
        try:
            self.client.upload_fileobj(body, self.bucket, self.key(cid), Config=transfer)
        except Exception as exc:
            raise _error(exc, f"cannot store blob {cid} in {self.where}") from exc

    def get(self, cid: str) -> bytes:
        data = b"".join(self._stream(cid))
        if not cid_matches(cid, data):
            raise corrupted(cid, f"in {self.where}")
        return data

    def has(self, cid: str) -> bool:
        key = self.key(cid)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                return False
            raise _error(exc, f"cannot look up blob {cid} in {self.where}") from exc
        return True

    def size(self, cid: str) -> int:
        key = self.key(cid)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                raise missing(cid, self.where) from exc
            raise _error(exc, f"cannot read blob {cid} from {self.where}") from exc
        return int(head["ContentLength"])

    def chunks(self, cid: str) -> Iterator[bytes]:
        return self._stream(cid)

    def _stream(self, cid: str) -> Iterator[bytes]:
        key = self.key(cid)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                raise missing(cid, self.where) from exc
            raise _error(exc, f"cannot read blob {cid} from {self.where}") from exc
        return _chunks_of(body, cid, self.where)


def _chunks_of(body: Any, cid: str, where: str) -> Iterator[bytes]:
    try:
        with body:
            yield from body.iter_chunks(CHUNK_SIZE)
    except Exception as exc:
        raise _error(exc, f"cannot read blob {cid} from {where}") from exc


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix); anything else is a configuration error."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"blobs.url {url!r} is not an s3://bucket/prefix URL",
            hint='e.g. blobs.url = "s3://mintloom-assets/prod" (unset: blobs in .mintloom/blobs)',
        )
    return parts.netloc, parts.path.strip("/")


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code"))
    return None


def _error(exc: BaseException, what: str) -> BlobError:
    """botocore's failures as a :class:`BlobError` saying what could not be done and why."""
    name = type(exc).__name__
    hint = None
    if name in {"NoCredentialsError", "PartialCredentialsError"}:
        hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
    elif name == "EndpointConnectionError":
        hint = "check blobs.endpoint_url and that the object store is up"
    elif _code(exc) == "NoSuchBucket":
        hint = "create the bucket first (mintloom never creates buckets)"
    return BlobError(f"{what}: {name}: {exc}", hint=hint)
