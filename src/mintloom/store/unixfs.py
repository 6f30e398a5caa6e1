"""Byte-exact dag-pb / UnixFS File nodes, as ``ipfs add`` writes them (a tiny protobuf writer).

A node links its children in order and says how many file bytes each holds, so a reader can
seek. Serialised in the dag-pb canonical order (https://ipld.io/specs/codecs/dag-pb/spec/):
every ``PBNode.Links`` (field 2) before ``PBNode.Data`` (field 1); a ``PBLink`` is
``Hash`` (1), ``Name`` (2, present and empty, as kubo and js-ipfs write it), ``Tsize`` (3).
``Data`` is a UnixFS message (https://specs.ipfs.tech/unixfs/): ``Type`` (1) = File (2),
``filesize`` (3), then one unpacked ``blocksizes`` (4) per link. A Directory node (Type 1, no
other field) links its entries by ``Name``, sorted bytewise as dag-pb requires. A HAMTShard node
(Type 5) adds ``Data`` (2, the bitfield of used buckets), ``hashType`` (5) and ``fanout`` (6).
:func:`read_node` reads these nodes back (for resolving a name in a published folder).
"""

from __future__ import annotations

from dataclasses import dataclass

from mintloom.errors import MalformedDagError

_VARINT, _LEN = 0, 2
UNIXFS_DIRECTORY = 1
_UNIXFS_FILE = 2
UNIXFS_HAMT_SHARD = 5


def varint(n: int) -> bytes:
    """Unsigned LEB128, as protobuf, multiformats and CAR use it."""
    if n < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, _LEN) + varint(len(value)) + value


def _int_field(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + varint(value)


@dataclass(frozen=True)
class Link:
    """A child of a File node: its binary CID, its DAG size (``Tsize``) and its file bytes."""

    cid: bytes
    tsize: int
    filesize: int


def file_node(links: list[Link]) -> bytes:
    """The dag-pb block of a UnixFS File node over ``links`` (in file order)."""
    out = bytearray()
    for link in links:
        body = _bytes_field(1, link.cid) + _bytes_field(2, b"") + _int_field(3, link.tsize)
        out += _bytes_field(2, body)
    data = bytearray(_int_field(1, _UNIXFS_FILE) + _int_field(3, sum(x.filesize for x in links)))
    for link in links:
        data += _int_field(4, link.filesize)
    out += _bytes_field(1, bytes(data))
    return bytes(out)


@dataclass(frozen=True)
class DirLink:
    """An entry of a Directory node: its name, binary CID and DAG size (``Tsize``)."""

    name: str
    cid: bytes
    tsize: int


def directory_node(entries: list[DirLink]) -> bytes:
    """The dag-pb block of a flat UnixFS Directory over ``entries`` (sorted here by name bytes)."""
    return _links_block(entries, _int_field(1, UNIXFS_DIRECTORY))


def _links_block(entries: list[DirLink], data: bytes) -> bytes:
    out = bytearray()
    for e in sorted(entries, key=lambda e: e.name.encode()):
        body = _bytes_field(1, e.cid) + _bytes_field(2, e.name.encode()) + _int_field(3, e.tsize)
        out += _bytes_field(2, body)
    return bytes(out + _bytes_field(1, data))


def shard_node(entries: list[DirLink], bitfield: bytes, hash_type: int, fanout: int) -> bytes:
    """The dag-pb block of a UnixFS HAMTShard node (links named ``<bucket hex><name>``)."""
    data = _int_field(1, UNIXFS_HAMT_SHARD) + _bytes_field(2, bitfield)
    return _links_block(entries, data + _int_field(5, hash_type) + _int_field(6, fanout))


@dataclass(frozen=True)
class Node:
    """A dag-pb node read back: its links and the fields of its UnixFS ``Data`` that folders use."""

    links: list[DirLink]
    type: int
    hash_type: int | None = None
    fanout: int | None = None


def read_node(block: bytes) -> Node:
    """Parse a dag-pb block and its UnixFS ``Data``; :class:`MalformedDagError` if it is neither."""
    links: list[DirLink] = []
    data: bytes | None = None
    for field, value in _fields(block):
        if field == 2 and isinstance(value, bytes):
            links.append(_read_link(value))
        elif field == 1 and isinstance(value, bytes):
            data = value
        else:
            raise MalformedDagError(f"dag-pb node with an unexpected field {field}")
    if data is None:
        raise MalformedDagError("dag-pb node without UnixFS data")
    ints = {f: v for f, v in _fields(data) if isinstance(v, int)}
    if 1 not in ints:
        raise MalformedDagError("UnixFS data without a type")
    return Node(links, ints[1], ints.get(5), ints.get(6))


def _read_link(body: bytes) -> DirLink:
    got = dict(_fields(body))
    cid, name, tsize = got.get(1), got.get(2, b""), got.get(3, 0)
    if not isinstance(cid, bytes) or not isinstance(name, bytes) or not isinstance(tsize, int):
        raise MalformedDagError("dag-pb link without a hash, or with mistyped fields")
    try:
        return DirLink(name.decode(), cid, tsize)
    except UnicodeDecodeError as exc:
        raise MalformedDagError("dag-pb link name is not UTF-8") from exc


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message (varint and length-delimited only)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        if key & 7 == _VARINT:
            value, pos = _read_varint(buf, pos)
            out.append((key >> 3, value))
        elif key & 7 == _LEN:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise MalformedDagError("protobuf field runs past the end of its block")
            out.append((key >> 3, buf[pos : pos + size]))
            pos += size
        else:
            raise MalformedDagError(f"protobuf wire type {key & 7} has no place in dag-pb / UnixFS")
    return out


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise MalformedDagError("truncated or oversized varint in a dag-pb block")
