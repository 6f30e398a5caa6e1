"""CIDs equal what IPFS computes (`ipfs add --cid-version 1 --raw-leaves`) at every size.

Checked against an independent implementation, the IPFS JS importer (npm ``ipfs-unixfs-importer``,
a devDependency run under node by ``unixfs_reference.mjs``): same root CID and byte-identical
blocks. Kubo builds the same DAG (boxo ``importer/balanced``: 262144-byte chunks, raw leaves,
174 links per node; an empty file is the raw block of no bytes).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import ProvenanceError
from mintloom.store.cid import (
    CHUNK_SIZE,
    DAG_PB_CODEC,
    MAX_LINKS,
    RAW_CODEC,
    cid_for,
    cid_for_file,
    cid_for_stream,
    cid_matches,
    codec_of,
    dag_blocks,
    digest_of,
    raw_cid,
    sha256,
)
from tests.store.ipfs_reference import reference


def pattern(n: int) -> bytes:
    """Deterministic test bytes: 0..250 repeated (251 is prime to the chunk size: no equal chunks)."""
    return (bytes(range(251)) * (n // 251 + 1))[:n]


# Generated with tests/store/unixfs_reference.mjs (ipfs-unixfs-importer 17.1.1, node 20) over
# files holding pattern(size):  node unixfs_reference.mjs p0 p1 p262143 ...
VECTORS = {
    0: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    1: "bafkreidogqfzz75tpkmjzjke425xqcrmpcib2p5tg44hnbirumdbpl5adu",
    CHUNK_SIZE - 1: "bafkreiagptg6ztonoojy4wflk3wwusl5xt4vcy6uult4wa7oemsjtxhjsu",
    CHUNK_SIZE: "bafkreibruh455iawsviqslif5c7uurdcfdemh22mtnytyzvnzn75kpejxy",
    CHUNK_SIZE + 1: "bafybeiexg2oqkfnj56l7fcmawswqbijt5shq4b5rg6a546uwpkqqzwjioi",
    MAX_LINKS * CHUNK_SIZE: "bafybeihpe5snhzneq7xs53nivmsopto5lrogo3wjynauqylqeym5a3irbm",
    MAX_LINKS * CHUNK_SIZE + 1: "bafybeib4y7ghw2rq7bracc4xwtxrbzo7cfvagdpte2tmrkgwl6dyard3cm",
    5 * 1024 * 1024 + 123: "bafybeicyeyvusrv73lyxoqn5p5wzskaeg74b2je2bpyzvrwsfe37vr3erm",
}
BLOCK_COUNTS = {CHUNK_SIZE + 1: 3, MAX_LINKS * CHUNK_SIZE: 175, MAX_LINKS * CHUNK_SIZE + 1: 178}


def mine(data: bytes, *, chunk: int = CHUNK_SIZE, links: int = MAX_LINKS) -> dict[str, object]:
    blocks = list(dag_blocks([data], chunk_size=chunk, max_links=links))
    return {"root": blocks[-1][0], "blocks": {c: b.hex() for c, b in blocks}}


@pytest.mark.parametrize("size", VECTORS)
def test_fixed_vectors(size: int) -> None:
    data = pattern(size)
    assert cid_for(data) == VECTORS[size]
    assert codec_of(VECTORS[size]) == (RAW_CODEC if size <= CHUNK_SIZE else DAG_PB_CODEC)
    if size in BLOCK_COUNTS:
        assert len(list(dag_blocks([data]))) == BLOCK_COUNTS[size]


def test_same_dag_as_the_js_importer_at_the_edges(tmp_path: Path) -> None:
    """Random bytes at each boundary: identical root and identical blocks, byte for byte."""
    rng = random.Random(20261129)
    sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, MAX_LINKS * CHUNK_SIZE + 1,
             3 * 1024 * 1024 + 7]  # fmt: skip
    files = []
    for size in sizes:
        files.append(tmp_path / f"f{size}")
        files[-1].write_bytes(rng.randbytes(size))
    for path, ref in zip(files, reference(files), strict=True):
        assert mine(path.read_bytes()) == ref, path.name
        assert cid_for_file(path) == ref["root"]


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=2, max_value=5),
)
def test_deep_dags_match_the_js_importer(
    tmp_path_factory: pytest.TempPathFactory, datas: list[bytes], chunk: int, links: int
) -> None:
    """Small chunks and few links per node give 3-10 level DAGs cheaply: the layout (when a node
    closes, how a lone child is wrapped, the root) matches the JS importer's at every depth."""
    folder = tmp_path_factory.mktemp("deep")
    files = []
    for i, data in enumerate(datas):
        files.append(folder / f"d{i}")
        files[-1].write_bytes(data)
    for data, ref in zip(datas, reference(files, chunk=chunk, links=links), strict=True):
        assert mine(data, chunk=chunk, links=links) == ref


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=3 * 1024), st.lists(st.integers(min_value=0, max_value=3 * 1024), max_size=6))
def test_streaming_is_split_independent(data: bytes, cuts: list[int]) -> None:
    """Any way of cutting the input into pieces gives the same blocks (tiny layout: many levels)."""
    edges = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    pieces = [data[a:b] for a, b in itertools.pairwise(edges)]
    whole = list(dag_blocks([data], chunk_size=7, max_links=3))
    assert list(dag_blocks(iter(pieces), chunk_size=7, max_links=3)) == whole
    for cid, block in whole:  # every block hashes to its CID; the raw leaves spell the file
        assert digest_of(cid) == sha256(block)
    assert b"".join(b for c, b in whole if codec_of(c) == RAW_CODEC) == data


def test_streams_gigabytes_in_bounded_memory() -> None:
    """64 MiB streamed: peak allocation stays around one chunk, not the file size."""
    size = 64 * 1024 * 1024

    def pieces() -> Iterator[bytes]:
        block = pattern(1024 * 1024)
        for _ in range(size // len(block)):
            yield block

    tracemalloc.start()
    try:
        cid = cid_for_stream(pieces())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert codec_of(cid) == DAG_PB_CODEC
    assert peak < 6 * 1024 * 1024, f"peak {peak} bytes"


def test_legacy_raw_cids_still_match() -> None:
    """A big file logged before UnixFS CIDs keeps its raw CID: it still matches its bytes."""
    big = pattern(CHUNK_SIZE + 10)
    legacy = raw_cid(big)
    assert legacy != cid_for(big) and codec_of(legacy) == RAW_CODEC
    assert cid_matches(legacy, big) and cid_matches(cid_for(big), big)
    tampered = big[:-1] + b"\x00"
    assert not cid_matches(legacy, tampered) and not cid_matches(cid_for(big), tampered)


def test_a_dag_pb_cid_never_matches_a_small_file() -> None:
    """A single block is only ever raw: a dag-pb CID cannot stand for <= 262144 bytes, even the
    bytes of a dag-pb node (whose sha256 is that CID's digest)."""
    big = pattern(CHUNK_SIZE + 1)
    root_cid, root_block = list(dag_blocks([big]))[-1]
    assert digest_of(root_cid) == hashlib.sha256(root_block).digest()
    assert not cid_matches(root_cid, root_block)


def test_invalid_layout_refused() -> None:
    with pytest.raises(ProvenanceError, match="invalid UnixFS layout"):
        list(dag_blocks([b"x"], max_links=1))
