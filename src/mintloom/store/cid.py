"""IPFS-compatible content identifiers: exactly the CIDv1 ``ipfs add --cid-version 1 --raw-leaves``
computes (kubo's and js-ipfs's default CIDv1 import), base32 lower-case.

A file of at most one chunk (262144 bytes, including the empty file) is a single raw block:
CIDv1, raw codec (0x55), sha2-256 of the bytes. A larger file is a balanced UnixFS DAG: raw
leaves of 262144 bytes, grouped 174 to a dag-pb (0x70) File node, level by level, until one root
is left; the CID is the root's. :func:`dag_blocks` yields every block of that DAG (for a CAR),
streaming, so a multi-GB file needs one chunk and a few hundred links in memory.

Workspaces made before this rule gave every file a single raw-block CID, whatever its size.
Those CIDs stay valid: :func:`cid_matches` recomputes a file's CID with the algorithm the
stored CID's codec names (raw = sha2-256 of the whole file; dag-pb = the UnixFS DAG).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from mintloom.errors import ProvenanceError
from mintloom.store.unixfs import Link, file_node
from mintloom.types import CID

_CID_VERSION = 0x01
RAW_CODEC = 0x55
DAG_PB_CODEC = 0x70
SHA2_256 = 0x12
CHUNK_SIZE = 262144
"""kubo's default fixed-size chunker (``size-262144``)."""
MAX_LINKS = 174
"""Links per node of kubo's balanced layout (``helpers.DefaultLinksPerBlock``)."""
_PREFIXES = {codec: bytes([_CID_VERSION, codec, SHA2_256, 32]) for codec in (RAW_CODEC, DAG_PB_CODEC)}

Block = tuple[CID, bytes]
"""A block of a DAG: its CID and its bytes."""
_Bytes = bytes | memoryview
"""A chunk: memoryview slices spare :func:`cid_for` a copy of the file."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def cid_from_digest(digest: bytes, codec: int = RAW_CODEC) -> CID:
    if len(digest) != 32:
        raise ProvenanceError(f"sha2-256 digest must be 32 bytes, got {len(digest)}")
    prefix = _PREFIXES.get(codec)
    if prefix is None:
        raise ProvenanceError(f"unsupported CID codec 0x{codec:x}: only raw (0x55) and dag-pb (0x70)")
    return CID("b" + base64.b32encode(prefix + digest).decode("ascii").lower().rstrip("="))


def raw_cid(data: bytes) -> CID:
    """The single raw-block CID of ``data`` (the IPFS CID only up to :data:`CHUNK_SIZE` bytes)."""
    return cid_from_digest(sha256(data))


def cid_for(data: bytes) -> CID:
    """The CID ``ipfs add --cid-version 1 --raw-leaves`` gives ``data``."""
    if len(data) <= CHUNK_SIZE:
        return raw_cid(data)
    view = memoryview(data)
    return _root(view[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE))


def cid_for_stream(pieces: Iterable[bytes]) -> CID:
    """:func:`cid_for` of the concatenation of ``pieces`` (any sizes), in bounded memory."""
    return _root(pieces)


def _root(pieces: Iterable[_Bytes]) -> CID:
    last: CID | None = None
    for last, _ in _blocks(pieces, CHUNK_SIZE, MAX_LINKS):  # noqa: B007 (the root comes last)
        pass
    assert last is not None  # there is always at least the root
    return last


def cid_for_file(path: Path) -> CID:
    """:func:`cid_for` of a file's bytes, read one chunk at a time."""
    with path.open("rb") as f:
        return cid_for_stream(iter(lambda: f.read(CHUNK_SIZE), b""))


def cid_matches(cid: str, data: bytes) -> bool:
    """Whether ``data`` has CID ``cid`` under the algorithm its codec names (legacy raw CIDs too)."""
    if codec_of(cid) == RAW_CODEC:
        return raw_cid(data) == cid
    return len(data) > CHUNK_SIZE and cid_for(data) == cid


def dag_blocks(
    pieces: Iterable[bytes], *, chunk_size: int = CHUNK_SIZE, max_links: int = MAX_LINKS
) -> Iterator[Block]:
    """Every block of the UnixFS DAG of the concatenated ``pieces``: leaves and nodes in the order
    ``ipfs add`` writes them, the root last. (Other sizes than kubo's defaults are for tests.)"""
    if chunk_size < 1 or max_links < 2:
        raise ProvenanceError(f"invalid UnixFS layout: chunk size {chunk_size}, {max_links} links per node")
    for cid, block in _blocks(pieces, chunk_size, max_links):
        yield cid, bytes(block)


def _blocks(pieces: Iterable[_Bytes], chunk_size: int, max_links: int) -> Iterator[tuple[CID, _Bytes]]:
    chunks = _chunks(pieces, chunk_size)
    first = next(chunks)
    second = next(chunks, None)
    if second is None:
        yield _raw(first), first
        return
    dag = _Balanced(max_links)
    for chunk in (first, second):
        yield from dag.leaf(chunk)
    for chunk in chunks:
        yield from dag.leaf(chunk)
    yield from dag.finish()


def _raw(chunk: _Bytes) -> CID:
    return cid_from_digest(hashlib.sha256(chunk).digest())


def _chunks(pieces: Iterable[_Bytes], size: int) -> Iterator[_Bytes]:
    """Fixed-size chunks (the last shorter); one empty chunk for no bytes."""
    buf = bytearray()
    emitted = False
    for piece in pieces:
        if not buf and len(piece) == size:  # already a whole chunk (cid_for's slices): no copy
            yield piece
            emitted = True
            continue
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
            emitted = True
    if buf or not emitted:
        yield bytes(buf)


class _Balanced:
    """kubo's balanced layout, streamed: pending links per level; a full level becomes a node."""

    def __init__(self, max_links: int) -> None:
        self.max_links = max_links
        self.levels: list[list[Link]] = [[]]

    def leaf(self, chunk: _Bytes) -> Iterator[tuple[CID, _Bytes]]:
        cid = _raw(chunk)
        yield cid, chunk
        yield from self._add(0, Link(cid_bytes(cid), len(chunk), len(chunk)))

    def _add(self, level: int, link: Link) -> Iterator[Block]:
        if level == len(self.levels):
            self.levels.append([])
        self.levels[level].append(link)
        if len(self.levels[level]) == self.max_links:
            yield from self._flush(level)

    def _flush(self, level: int) -> Iterator[Block]:
        links, self.levels[level] = self.levels[level], []
        block = file_node(links)
        cid = cid_from_digest(sha256(block), DAG_PB_CODEC)
        yield cid, block
        tsize = len(block) + sum(x.tsize for x in links)
        yield from self._add(level + 1, Link(cid_bytes(cid), tsize, sum(x.filesize for x in links)))

    def finish(self) -> Iterator[Block]:
        """Close every partial node bottom-up until one node (the root, already yielded) is left."""
        level = 0
        while True:
            pending = self.levels[level]
            if level > 0 and len(pending) == 1 and not any(self.levels[level + 1 :]):
                return
            if pending:
                yield from self._flush(level)
            level += 1


def cid_bytes(cid: str) -> bytes:
    """Binary form of a CID string (version, codec, multihash)."""
    if not cid.startswith("b"):
        raise ProvenanceError(f"unsupported CID {cid!r}: only base32 CIDv1 ('b...') is accepted")
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise ProvenanceError(f"malformed CID {cid!r}: {exc}") from exc
    if len(raw) != 36 or raw[:4] not in _PREFIXES.values():
        raise ProvenanceError(f"unsupported CID {cid!r}: expected CIDv1 raw or dag-pb, sha2-256")
    return raw


def codec_of(cid: str) -> int:
    """The CID's codec: :data:`RAW_CODEC` or :data:`DAG_PB_CODEC`."""
    return cid_bytes(cid)[1]


def digest_of(cid: str) -> bytes:
    """The sha2-256 digest inside a CID (what the chain stores as ``bytes32``)."""
    return cid_bytes(cid)[4:]


def parse_cid(cid: str) -> CID:
    """Validate and normalise a CID string."""
    raw = cid_bytes(cid)
    return cid_from_digest(raw[4:], raw[1])
