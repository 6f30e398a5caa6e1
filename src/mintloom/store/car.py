"""CARv1 archives of blobs: publish assets to IPFS under exactly their mintloom CIDs.

Every blob is one raw block (CIDv1, raw codec, sha2-256), so a CAR with those blocks, imported
with ``ipfs dag import``, serves each asset under the CID that mintloom logged, anchored and
registered on chain. Format (https://ipld.io/specs/transport/car/carv1/): a varint-prefixed
DAG-CBOR header ``{"roots": [CID…], "version": 1}``, then per block a varint-prefixed
``CID bytes ‖ block bytes``. The roots are the archive's assets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from mintloom.errors import BlobError
from mintloom.provenance.cid import RAW_CODEC, SHA2_256, cid_bytes, cid_from_digest
from mintloom.types import CID

_CID_TAG = 42
RAW_SHA256_PREFIX = bytes([0x01, RAW_CODEC, SHA2_256, 32])
"""CIDv1 ‖ raw codec ‖ sha2-256 multihash code ‖ digest length: the prefix of every mintloom CID."""


def varint(n: int) -> bytes:
    """Unsigned LEB128, as multiformats and CAR use it."""
    if n < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(stream: BinaryIO) -> int | None:
    """The next varint, or None at a clean end of stream."""
    shift = result = 0
    while True:
        b = stream.read(1)
        if not b:
            if shift:
                raise BlobError("CAR archive ends inside a varint")
            return None
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise BlobError("CAR archive has an oversized varint")


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("CBOR length too large")


def header(roots: Iterable[str]) -> bytes:
    """DAG-CBOR ``{"roots": [...], "version": 1}`` (keys in DAG-CBOR order: shorter first)."""
    rs = list(roots)
    out = bytearray(_cbor_head(5, 2))  # map of 2
    out += _cbor_head(3, 5) + b"roots" + _cbor_head(4, len(rs))
    for r in rs:
        link = b"\x00" + cid_bytes(r)  # a CID in DAG-CBOR: tag 42 over 0x00 ‖ binary CID
        out += _cbor_head(6, _CID_TAG) + _cbor_head(2, len(link)) + link
    out += _cbor_head(3, 7) + b"version" + _cbor_head(0, 1)
    return bytes(out)


def write_car(path: Path, roots: list[str], blocks: Iterable[tuple[str, bytes]]) -> int:
    """Write a CARv1; returns the number of blocks. Each block's bytes must hash to its CID."""
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            h = header(roots)
            f.write(varint(len(h)) + h)
            for cid, data in blocks:
                if cid_from_digest(hashlib.sha256(data).digest()) != cid:
                    raise BlobError(f"block {cid} does not hash to its CID")
                raw = cid_bytes(cid)
                f.write(varint(len(raw) + len(data)) + raw + data)
                count += 1
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BlobError(f"cannot write CAR archive {path}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def read_car(path: Path) -> tuple[list[CID], Iterator[tuple[CID, bytes]]]:
    """Roots and blocks of a CARv1 written by :func:`write_car` (raw sha2-256 blocks), each block
    checked against its CID."""
    f = path.open("rb")
    size = read_varint(f)
    if size is None:
        f.close()
        raise BlobError(f"{path} is empty")
    head = f.read(size)
    roots = _parse_header(head, path)

    def blocks() -> Iterator[tuple[CID, bytes]]:
        with f:
            while (n := read_varint(f)) is not None:
                section = f.read(n)
                if len(section) != n or n < 36:
                    raise BlobError(f"{path}: truncated block section")
                if section[:4] != RAW_SHA256_PREFIX:
                    raise BlobError(f"{path}: block with an unsupported CID (not raw sha2-256)")
                cid = cid_from_digest(section[4:36])
                data = section[36:]
                if hashlib.sha256(data).digest() != section[4:36]:
                    raise BlobError(f"{path}: block {cid} does not hash to its CID")
                yield cid, data

    return roots, blocks()


def _parse_header(head: bytes, path: Path) -> list[CID]:
    marker = _cbor_head(3, 5) + b"roots"
    if not head.startswith(_cbor_head(5, 2) + marker) or not head.endswith(_cbor_head(3, 7) + b"version\x01"):
        raise BlobError(f"{path}: not a CARv1 archive of mintloom blocks")
    pos = 1 + len(marker)
    first = head[pos]
    if first >> 5 != 4:
        raise BlobError(f"{path}: CAR roots are not an array")
    info = first & 0x1F
    if info < 24:
        count, pos = info, pos + 1
    else:
        width = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        count, pos = int.from_bytes(head[pos + 1 : pos + 1 + width], "big"), pos + 1 + width
    roots: list[CID] = []
    link_head = _cbor_head(6, _CID_TAG) + _cbor_head(2, 37) + b"\x00"
    for _ in range(count):
        if head[pos : pos + len(link_head)] != link_head:
            raise BlobError(f"{path}: unsupported CAR root")
        pos += len(link_head)
        roots.append(cid_from_digest(head[pos + 4 : pos + 36]))
        pos += 36
    if not roots:
        raise BlobError(f"{path}: CAR archive without roots")
    return roots
