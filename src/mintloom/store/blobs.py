"""Content-addressed blob store keyed by CIDv1: whole files, each under its IPFS CID (raw or
UnixFS dag-pb, see :mod:`mintloom.store.cid`), or under the raw CID an older run logged.

The local layout follows IPFS flatfs ``next-to-last/2``: ``blobs/<2 chars>/<cid>`` where the two
characters are the next-to-last two of the base32 CID, so a folder of blobs can be added to an
IPFS node and resolves to the same CIDs. Writes are atomic (temp file + rename) and verified.

:class:`BlobStore` is the seam: :class:`LocalBlobStore` here, :class:`~mintloom.store.s3.S3BlobStore`
(``mintloom[s3]``) on any S3-compatible object store. Both refuse a missing blob with
:class:`BlobNotFoundError` and bytes that do not hash to their CID with :class:`BlobCorruptedError`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from mintloom.errors import BlobCorruptedError, BlobError, BlobNotFoundError
from mintloom.faults import crash_point
from mintloom.store.cid import CHUNK_SIZE, cid_for, cid_for_file, cid_matches, parse_cid
from mintloom.store.files import remove_dead_writers_tmp, write_atomic_many
from mintloom.types import CID


class BlobStore(Protocol):
    """Whole files under their CIDs: writes idempotent, reads verified against the CID."""

    def put(self, data: bytes) -> CID: ...

    def put_many(self, datas: Sequence[bytes]) -> list[CID]:
        """Store several blobs at once (one flush to disk for all, where the store can)."""
        ...

    def put_file(self, path: Path) -> CID:
        """Store a file's bytes without holding them in memory (large exports)."""
        ...

    def get(self, cid: str) -> bytes: ...

    def has(self, cid: str) -> bool: ...

    def size(self, cid: str) -> int: ...

    def chunks(self, cid: str) -> Iterator[bytes]:
        """The blob's bytes one chunk at a time, unchecked (the CAR writer checks the blocks)."""
        ...


def open_blob_store(
    local_root: Path, url: str | None = None, *, endpoint_url: str | None = None
) -> BlobStore:
    """The workspace's blob store: local under ``local_root``, or the S3 bucket of ``url``."""
    if url is None:
        return LocalBlobStore(local_root)
    from mintloom.store.s3 import S3BlobStore

    return S3BlobStore.from_url(url, endpoint_url=endpoint_url)


def missing(cid: str, where: str) -> BlobNotFoundError:
    return BlobNotFoundError(f"blob {cid} is not in the store ({where})")


def corrupted(cid: str, where: str) -> BlobCorruptedError:
    return BlobCorruptedError(
        f"blob {cid} is corrupted ({where}): its content no longer matches its CID",
        hint="restore it from a copy (a rerun of the campaign stores it again)",
    )


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, cid: str) -> Path:
        c = parse_cid(cid)
        return self.root / c[-3:-1] / c

    def put(self, data: bytes) -> CID:
        cid = cid_for(data)
        self._write(cid, lambda f: f.write(data))
        return cid

    def put_many(self, datas: Sequence[bytes]) -> list[CID]:
        """:meth:`put` of each, durable together: one file-system sync, not one fsync per blob."""
        cids = [cid_for(d) for d in datas]
        new = {c: d for c, d in zip(cids, datas, strict=True) if not self.path(c).exists()}
        try:
            for c in new:
                self.path(c).parent.mkdir(parents=True, exist_ok=True)
            remove_dead_writers_tmp([self.path(c) for c in new])  # a killed earlier write of them
            write_atomic_many(
                [(self.path(c), d) for c, d in new.items()], before_rename=lambda: crash_point("blobs.rename")
            )
        except OSError as exc:
            raise BlobError(f"cannot store {len(new)} blobs in {self.root}: {exc}") from exc
        return cids

    def put_file(self, path: Path) -> CID:
        cid = cid_for_file(path)

        def copy(f: BinaryIO) -> None:
            with path.open("rb") as src:
                shutil.copyfileobj(src, f, CHUNK_SIZE)

        self._write(cid, copy)
        return cid

    def _write(self, cid: CID, write: Callable[[BinaryIO], object]) -> None:
        target = self.path(cid)
        if target.exists():
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    write(f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise BlobError(f"cannot store blob {cid} in {self.root}: {exc}") from exc

    def get(self, cid: str) -> bytes:
        p = self.path(cid)
        try:
            data = p.read_bytes()
        except FileNotFoundError as exc:
            raise missing(cid, str(self.root)) from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {cid}: {exc}") from exc
        if not cid_matches(cid, data):
            raise corrupted(cid, f"on disk, {p}")
        return data

    def has(self, cid: str) -> bool:
        return self.path(cid).is_file()

    def size(self, cid: str) -> int:
        """Size of a stored blob, without reading it (a cheap first check against a copy)."""
        try:
            return self.path(cid).stat().st_size
        except FileNotFoundError as exc:
            raise missing(cid, str(self.root)) from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {cid}: {exc}") from exc

    def chunks(self, cid: str) -> Iterator[bytes]:
        """The blob's bytes one chunk at a time (unchecked: the CAR writer checks the blocks)."""
        try:
            with self.path(cid).open("rb") as f:
                yield from iter(lambda: f.read(CHUNK_SIZE), b"")
        except FileNotFoundError as exc:
            raise missing(cid, str(self.root)) from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {cid}: {exc}") from exc
