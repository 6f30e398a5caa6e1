"""HAMT-sharded UnixFS directories, byte for byte as kubo (boxo) and ipfs-unixfs-importer write them.

A folder too big for one block is a hash trie (https://specs.ipfs.tech/unixfs/#hamt-directory):
each name is hashed with murmur3-x64-128, of which only the first 64 bits (``h1``) count (multicodec
0x22, "murmur3-x64-64", as kubo reads it); each level consumes the next 8 bits, most significant
first, and picks one of 256 buckets. A bucket holding one name links it as ``<bucket><name>``; a
bucket where several names meet links a sub-shard as ``<bucket>``, the bucket written as two
upper-case hex digits. Each shard's ``Data`` holds the bitfield of its used buckets (bit i set for
bucket i, big-endian, leading zero bytes dropped), then ``hashType`` 0x22 and ``fanout`` 256.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

from mintloom.errors import BlobError, MalformedDagError
from mintloom.store.cid import DAG_PB_CODEC, RAW_CODEC, Block, cid_bytes, cid_from_digest, sha256
from mintloom.store.unixfs import UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD, DirLink, read_node, shard_node
from mintloom.types import CID

FANOUT = 256
MURMUR3_X64_64 = 0x22
_BITS = 8
_LEVELS = 64 // _BITS
"""A 64-bit hash gives 8 levels. Names still together below them (a murmur3 collision, which can be
made on purpose) are refused: the JS importer would re-hash them, and the implementations differ."""
_M64 = (1 << 64) - 1
_C1, _C2 = 0x87C37B91114253D5, 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _fmix(k: int) -> int:
    k = ((k ^ (k >> 33)) * 0xFF51AFD7ED558CCD) & _M64
    k = ((k ^ (k >> 33)) * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def _mix_k1(k1: int) -> int:
    return (_rotl((k1 * _C1) & _M64, 31) * _C2) & _M64


def _mix_k2(k2: int) -> int:
    return (_rotl((k2 * _C2) & _M64, 33) * _C1) & _M64


def murmur3_x64_128(data: bytes, seed: int = 0) -> bytes:
    """MurmurHash3_x64_128 of ``data``, in its canonical byte order (``h1`` then ``h2``, little-endian)."""
    h1 = h2 = seed & _M64
    whole = len(data) - len(data) % 16
    for i in range(0, whole, 16):
        h1 ^= _mix_k1(int.from_bytes(data[i : i + 8], "little"))
        h1 = (_rotl(h1, 27) + h2) & _M64
        h1 = (h1 * 5 + 0x52DCE729) & _M64
        h2 ^= _mix_k2(int.from_bytes(data[i + 8 : i + 16], "little"))
        h2 = (_rotl(h2, 31) + h1) & _M64
        h2 = (h2 * 5 + 0x38495AB5) & _M64
    tail = data[whole:]
    if len(tail) > 8:
        h2 ^= _mix_k2(int.from_bytes(tail[8:], "little"))
    if tail:
        h1 ^= _mix_k1(int.from_bytes(tail[:8], "little"))
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    return h1.to_bytes(8, "little") + h2.to_bytes(8, "little")


def name_hash(name: str) -> int:
    """The 64-bit HAMT hash of a name: murmur3-x64-128's ``h1``, as kubo and the JS importer use it."""
    return int.from_bytes(murmur3_x64_128(name.encode())[:8], "little")


def bucket(hashed: int, depth: int) -> int:
    """The bucket of a name with hash ``hashed`` in a shard ``depth`` levels below the root."""
    return (hashed >> (64 - _BITS * (depth + 1))) & (FANOUT - 1)


def _label(index: int) -> str:
    return f"{index:02X}"


def shard_blocks(links: list[DirLink]) -> Iterator[Block]:
    """Every block of the HAMT directory over ``links`` (sub-shards first, the root shard last)."""
    yield from _shard([(name_hash(x.name), x) for x in links], 0)


def _shard(entries: list[tuple[int, DirLink]], depth: int) -> Generator[Block, None, tuple[CID, int]]:
    """The blocks of the shard over ``entries`` (its own last); returns its CID and DAG size
    (``Tsize``: its block and everything below, as the importer counts it)."""
    if depth == _LEVELS:
        names = sorted(x.name for _, x in entries)
        raise BlobError(f"folder names {names} share their whole 64-bit HAMT hash: IPFS cannot shard them")
    buckets: dict[int, list[tuple[int, DirLink]]] = {}
    for hashed, link in entries:
        buckets.setdefault(bucket(hashed, depth), []).append((hashed, link))
    children: list[DirLink] = []
    for index, group in sorted(buckets.items()):
        if len(group) == 1:
            link = group[0][1]
            children.append(DirLink(_label(index) + link.name, link.cid, link.tsize))
            continue
        cid, tsize = yield from _shard(group, depth + 1)
        children.append(DirLink(_label(index), cid_bytes(cid), tsize))
    bits = sum(1 << i for i in buckets)
    node = shard_node(children, bits.to_bytes((bits.bit_length() + 7) // 8, "big"), MURMUR3_X64_64, FANOUT)
    cid = cid_from_digest(sha256(node), DAG_PB_CODEC)
    yield cid, node
    return cid, len(node) + sum(x.tsize for x in children)


def lookup(get_block: Callable[[CID], bytes], root: CID, name: str) -> CID | None:
    """The CID ``name`` has in the folder ``root`` (flat or HAMT), or None if it holds no such name.

    ``get_block`` returns a block's bytes (checked against its CID by the caller's store).
    """
    node, depth = read_node(get_block(root)), 0
    if node.type == UNIXFS_DIRECTORY:
        return next((_cid(x) for x in node.links if x.name == name), None)
    hashed = name_hash(name)
    while True:
        _check_shard(node.type, node.hash_type, node.fanout)
        label = _label(bucket(hashed, depth))
        hit = next((x for x in node.links if x.name.startswith(label)), None)
        if hit is None:
            return None
        if hit.name != label:
            return _cid(hit) if hit.name[2:] == name else None
        node, depth = read_node(get_block(_cid(hit))), depth + 1
        if depth == _LEVELS:
            raise MalformedDagError(f"HAMT folder {root} nests deeper than its 64-bit hash allows")


def _check_shard(kind: int, hash_type: int | None, fanout: int | None) -> None:
    if kind != UNIXFS_HAMT_SHARD:
        raise MalformedDagError(f"UnixFS node of type {kind} where a folder or HAMT shard belongs")
    if hash_type != MURMUR3_X64_64 or fanout != FANOUT:
        raise MalformedDagError(
            f"HAMT shard with hash function {hash_type} and fanout {fanout}: "
            f"only murmur3-x64-64 (0x22) and fanout {FANOUT} are what IPFS writes"
        )


def _cid(link: DirLink) -> CID:
    raw = link.cid
    if len(raw) != 36 or raw[0] != 1 or raw[1] not in (RAW_CODEC, DAG_PB_CODEC) or raw[2:4] != b"\x12\x20":
        raise MalformedDagError(f"folder link {link.name!r} has a CID other than CIDv1 sha2-256 raw/dag-pb")
    return cid_from_digest(raw[4:], raw[1])
