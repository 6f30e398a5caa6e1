"""Documents mintloom publishes next to its assets: canonical JSON and UnixFS folders.

A published JSON document (token or licence metadata) must have one CID whoever serialises it,
so it is written canonically: keys sorted, no insignificant whitespace, UTF-8, and only strings,
integers, booleans, null, lists and objects (no floats, whose text forms differ between
serialisers). For these types this is RFC 8785 (JCS) except for keys outside the Basic
Multilingual Plane (sorted by code point here, by UTF-16 unit there); mintloom's keys are ASCII.

A folder is the flat UnixFS Directory ``ipfs add -r --cid-version 1 --raw-leaves`` builds (each
file its own DAG, see :mod:`mintloom.store.cid`), so ``ipfs://<folder CID>/<name>`` resolves.
A folder whose links weigh more than :data:`SHARD_THRESHOLD` is the HAMT-sharded directory IPFS
builds instead (:mod:`mintloom.store.hamt`), so a campaign of any size publishes one folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mintloom.errors import BlobError
from mintloom.store.cid import DAG_PB_CODEC, Block, cid_bytes, cid_from_digest, dag_blocks, sha256
from mintloom.store.hamt import shard_blocks
from mintloom.store.unixfs import DirLink, directory_node
from mintloom.types import CID

SHARD_THRESHOLD = 262144
"""A folder whose links' names and binary CIDs sum to more bytes is sharded (HAMT). This is
ipfs-unixfs-importer's default ``shardSplitThresholdBytes`` with ``shardSplitStrategy:
'links-bytes'``, and kubo's ``HAMTShardingSize`` (256 KiB) with its default ``links`` estimate in
current boxo (``>``; boxo before 2025 sharded at ``>=``, which differs only for a folder of exactly
262144 bytes). It is not the ``block-bytes`` estimate of the ``unixfs-v1-2025`` profile."""


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """``value`` as canonical JSON bytes; floats and non-string keys are refused."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


MAX_SAFE_INTEGER = 2**53 - 1
"""Integers beyond it have no exact JSON form other tools agree on: JCS (RFC 8785) and JavaScript
read numbers as doubles, so they would serialise, and hash, another text (I-JSON, RFC 7493)."""


def _check(value: object) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise BlobError(f"canonical JSON keys must be strings, not {type(k).__name__}")
            _check(k)
            _check(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check(v)
    elif isinstance(value, str):
        if not value.isascii() and not _utf8(value):
            raise BlobError("canonical JSON text must be valid Unicode (a lone surrogate is not)")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise BlobError(
            f"canonical JSON holds no integer beyond ±2^53-1 ({value})",
            hint="write large numbers as decimal strings, as minting fees are",
        )
    elif not isinstance(value, str | int | bool) and value is not None:
        raise BlobError(f"canonical JSON holds no {type(value).__name__} (only str, int, bool, null)")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def folder_blocks(files: Mapping[str, bytes], *, threshold: int = SHARD_THRESHOLD) -> Iterator[Block]:
    """Every block of the folder of ``files`` (name → bytes): each file's DAG, the folder root last.
    (Another ``threshold`` than IPFS's is for tests: small folders that shard.)"""
    links: list[DirLink] = []
    for name in sorted(files, key=str.encode):
        _check_name(name)
        root, size = None, 0
        for root, block in dag_blocks([files[name]]):
            size += len(block)
            yield root, block
        assert root is not None
        links.append(DirLink(name, cid_bytes(root), size))
    yield from _directory_blocks(links, threshold)


def file_link(name: str, data: bytes) -> DirLink:
    """The folder entry of the file ``name`` holding ``data`` (its DAG's root and total size), so
    a folder's CID can be computed without keeping every file's bytes (:func:`folder_cid_of_links`)."""
    _check_name(name)
    root, size = None, 0
    for root, block in dag_blocks([data]):  # noqa: B007 (the root comes last)
        size += len(block)
    assert root is not None
    return DirLink(name, cid_bytes(root), size)


def folder_cid_of_links(links: Iterable[DirLink], *, threshold: int = SHARD_THRESHOLD) -> CID:
    """:func:`folder_cid` of the folder whose entries are ``links`` (from :func:`file_link`)."""
    root: CID | None = None
    ordered = sorted(links, key=lambda x: x.name.encode())
    for root, _ in _directory_blocks(ordered, threshold):  # noqa: B007 (the root comes last)
        pass
    assert root is not None
    return root


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise BlobError(f"invalid file name in a folder: {name!r}")


def _directory_blocks(links: list[DirLink], threshold: int) -> Iterator[Block]:
    """The directory blocks over sorted ``links``: flat, or HAMT-sharded past ``threshold``."""
    if sum(len(x.name.encode()) + len(x.cid) for x in links) > threshold:
        yield from shard_blocks(links)
        return
    node = directory_node(links)
    yield cid_from_digest(sha256(node), DAG_PB_CODEC), node


def folder_cid(files: Mapping[str, bytes]) -> CID:
    """The CID of the folder of ``files`` (its root block's)."""
    root: CID | None = None
    for root, _ in folder_blocks(files):  # noqa: B007 (the root comes last)
        pass
    assert root is not None
    return root
