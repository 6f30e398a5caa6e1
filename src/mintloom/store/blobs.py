"""Content-addressed blob store keyed by CIDv1: whole files, each under its IPFS CID (raw or
UnixFS dag-pb, see :mod:`mintloom.store.cid`), or under the raw CID an older run logged.

The local layout follows IPFS flatfs ``next-to-last/2``: ``blobs/<2 chars>/<cid>`` where the two
characters are the next-to-last two of the base32 CID, so a folder of blobs can be added to an
IPFS node and resolves to the same CIDs. Writes are atomic (temp file + rename) and verified.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mintloom.errors import BlobError
from mintloom.store.cid import CHUNK_SIZE, cid_for, cid_matches, parse_cid
from mintloom.types import CID


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, cid: str) -> Path:
        c = parse_cid(cid)
        return self.root / c[-3:-1] / c

    def put(self, data: bytes) -> CID:
        cid = cid_for(data)
        target = self.path(cid)
        if target.exists():
            return cid
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise BlobError(f"cannot store blob {cid} in {self.root}: {exc}") from exc
        return cid

    def get(self, cid: str) -> bytes:
        p = self.path(cid)
        try:
            data = p.read_bytes()
        except FileNotFoundError as exc:
            raise BlobError(f"blob {cid} is not in the store") from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {cid}: {exc}") from exc
        if not cid_matches(cid, data):
            raise BlobError(f"blob {cid} is corrupted on disk ({p}): its content no longer matches its CID")
        return data

    def has(self, cid: str) -> bool:
        return self.path(cid).is_file()

    def size(self, cid: str) -> int:
        """Size of a stored blob, without reading it (a cheap first check against a copy)."""
        try:
            return self.path(cid).stat().st_size
        except FileNotFoundError as exc:
            raise BlobError(f"blob {cid} is not in the store") from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {cid}: {exc}") from exc

    def chunks(self, cid: str) -> Iterator[bytes]:
        """The blob's bytes one chunk at a time (unchecked: the CAR writer checks the blocks)."""
        try:
            with self.path(cid).open("rb") as f:
                yield from iter(lambda: f.read(CHUNK_SIZE), b"")
        except FileNotFoundError as exc:
            raise BlobError(f"blob {cid} is not in the store") from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {cid}: {exc}") from exc
