"""CARv1 archives of blobs: publish assets to IPFS under exactly their mintloom CIDs.

An asset of at most 262144 bytes is one raw block; a larger one is the UnixFS DAG ``ipfs add``
builds (raw leaves under dag-pb nodes, see :mod:`mintloom.store.cid`), and every block of
it goes into the archive, so ``ipfs dag import`` serves each asset under the CID that mintloom
logged, anchored and registered on chain (a pre-UnixFS raw CID of a large asset: one raw block).
Format (https://ipld.io/specs/transport/car/carv1/): a varint-prefixed
DAG-CBOR header ``{"roots": [CID…], "version": 1}``, then per block a varint-prefixed
``CID bytes ‖ block bytes``. The roots are the archive's assets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from mintloom.errors import BlobError, MintloomError
from mintloom.store.blobs import BlobStore
from mintloom.store.cid import (
    RAW_CODEC,
    Block,
    cid_bytes,
    cid_from_digest,
    codec_of,
    dag_blocks,
    parse_cid,
    sha256,
)
from mintloom.store.unixfs import varint
from mintloom.types import CID

__all__ = ["asset_blocks", "header", "read_car", "read_varint", "store_blocks", "varint", "write_car"]

_CID_TAG = 42
_CID_LEN = 36
"""CIDv1 ‖ codec ‖ sha2-256 multihash code ‖ digest length ‖ 32-byte digest."""


def asset_blocks(cid: str, pieces: Iterable[bytes]) -> Iterator[Block]:
    """The blocks that make the content of ``pieces`` resolvable under ``cid`` (root last).

    A dag-pb CID gets its UnixFS DAG; a raw CID (small, or logged before UnixFS) one raw block.
    Raises :class:`BlobError` if the content does not have that CID.
    """
    if codec_of(cid) == RAW_CODEC:
        yield parse_cid(cid), b"".join(pieces)  # write_car checks that it hashes to the CID
        return
    root: str | None = None
    for root, block in dag_blocks(pieces):
        yield root, block
    if root != cid:
        raise BlobError(f"content for {cid} builds the UnixFS DAG {root}, not its CID")


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


def store_blocks(store: BlobStore, cids: Iterable[str]) -> Iterator[Block]:
    """The blocks of each blob in ``store``, read a chunk at a time (bounded memory)."""
    for cid in cids:
        yield from asset_blocks(cid, store.chunks(cid))


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
    """Write a CARv1; returns the number of blocks written (a block shared by several assets
    once). Each block's bytes must hash to its CID."""
    seen: set[str] = set()
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            h = header(roots)
            f.write(varint(len(h)) + h)
            for cid, data in blocks:
                if cid in seen:
                    continue
                raw = cid_bytes(cid)
                if sha256(data) != raw[4:]:
                    raise BlobError(f"block {cid} does not hash to its CID")
                f.write(varint(len(raw) + len(data)) + raw + data)
                seen.add(cid)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BlobError(f"cannot write CAR archive {path}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(seen)


def read_car(path: Path) -> tuple[list[CID], Iterator[tuple[CID, bytes]]]:
    """Roots and blocks of a CARv1 written by :func:`write_car` (raw or dag-pb sha2-256 blocks),
    each block checked against its CID."""
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
                if len(section) != n or n < _CID_LEN:
                    raise BlobError(f"{path}: truncated block section")
                cid = _cid_at(section, 0, path)
                data = section[_CID_LEN:]
                if sha256(data) != section[4:_CID_LEN]:
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
        roots.append(_cid_at(head, pos, path))
        pos += _CID_LEN
    if not roots:
        raise BlobError(f"{path}: CAR archive without roots")
    return roots


def _cid_at(buf: bytes, pos: int, path: Path) -> CID:
    """The binary CID at ``pos``: CIDv1, raw or dag-pb, sha2-256; anything else is refused."""
    raw = buf[pos : pos + _CID_LEN]
    if len(raw) != _CID_LEN or raw[0] != 1 or raw[2:4] != b"\x12\x20":
        raise BlobError(f"{path}: block with an unsupported CID (not CIDv1 sha2-256)")
    try:
        return cid_from_digest(raw[4:], raw[1])
    except MintloomError as exc:
        raise BlobError(f"{path}: block with an unsupported CID ({exc.message})") from exc
