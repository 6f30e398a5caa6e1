"""Byte-exact dag-pb / UnixFS File nodes, as ``ipfs add`` writes them (a tiny protobuf writer).

A node links its children in order and says how many file bytes each holds, so a reader can
seek. Serialised in the dag-pb canonical order (https://ipld.io/specs/codecs/dag-pb/spec/):
every ``PBNode.Links`` (field 2) before ``PBNode.Data`` (field 1); a ``PBLink`` is
``Hash`` (1), ``Name`` (2, present and empty, as kubo and js-ipfs write it), ``Tsize`` (3).
``Data`` is a UnixFS message (https://specs.ipfs.tech/unixfs/): ``Type`` (1) = File (2),
``filesize`` (3), then one unpacked ``blocksizes`` (4) per link. A Directory node (Type 1, no
other field) links its entries by ``Name``, sorted bytewise as dag-pb requires.
"""

from __future__ import annotations

from dataclasses import dataclass

_VARINT, _LEN = 0, 2
_UNIXFS_DIRECTORY = 1
_UNIXFS_FILE = 2


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
    out = bytearray()
    for e in sorted(entries, key=lambda e: e.name.encode()):
        body = _bytes_field(1, e.cid) + _bytes_field(2, e.name.encode()) + _int_field(3, e.tsize)
        out += _bytes_field(2, body)
    out += _bytes_field(1, _int_field(1, _UNIXFS_DIRECTORY))
    return bytes(out)
