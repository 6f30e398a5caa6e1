"""HAMT-sharded folders: a folder of any size publishes, byte-identical to what IPFS builds.

The reference is ipfs-unixfs-importer (``unixfs_folder_reference.mjs``, as ``ipfs add -r
--cid-version 1 --raw-leaves``): same root CID and the same blocks, sub-shards included. The
murmur3 hash is checked against published MurmurHash3_x64_128 vectors (seed 0 unless given).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import BlobError, MalformedDagError
from mintloom.store import hamt
from mintloom.store.car import read_car, write_car
from mintloom.store.cid import DAG_PB_CODEC, cid_bytes, cid_for, cid_from_digest, sha256
from mintloom.store.hamt import FANOUT, MURMUR3_X64_64, bucket, lookup, murmur3_x64_128, name_hash
from mintloom.store.published import SHARD_THRESHOLD, canonical_json, folder_blocks, folder_cid
from mintloom.store.unixfs import UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD, DirLink, read_node, shard_node
from mintloom.types import CID
from tests.store.test_published import folder_reference

PER = 64 + len(".json") + 36
"""Link bytes of one licence file: 64 hex digits + ".json", and a 36-byte CID."""
RESOLVE = Path(__file__).with_name("unixfs_folder_resolve.mjs")


def read_by_ipfs(root: str, blocks: dict[str, bytes], names: list[str]) -> dict[str, dict[str, str | None]]:
    """ipfs-unixfs-exporter over ``blocks`` alone: the folder's ``listing`` (name → CID) and what
    ``ipfs://<root>/<name>`` is ``resolved`` to for each of ``names`` (None: no such entry)."""
    node = shutil.which("node")
    assert node is not None, "node is required for the IPFS reference"
    doc = json.dumps({"root": root, "blocks": {c: b.hex() for c, b in blocks.items()}, "names": names})
    proc = subprocess.run(
        [node, str(RESOLVE)], input=doc, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"reference exporter failed (run `npm ci`?): {proc.stderr}"
    out = json.loads(proc.stdout)
    assert isinstance(out, dict)
    return out


def _licences(n: int, seed: int = 5) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {
        f"{rng.getrandbits(256):064x}.json": canonical_json({"licence": i, "terms_id": i % 7})
        for i in range(n)
    }


@pytest.mark.parametrize(
    ("data", "seed", "digest"),
    [  # MurmurHash3_x64_128 reference vectors (Guava, spaolacci/murmur3, SMHasher ports)
        (b"", 0, "00000000000000000000000000000000"),
        (b"a", 0, "897859f6655555855a890e51483ab5e6"),
        (b"hello", 0, "029bbd41b3a7d8cb191dae486a901e5b"),
        (b"hello", 42, "086faf60c9b3b8c47abcefb075b83423"),
        (b"1234567890", 0, "0a877980e64afaec2bd2eb20c817d0c1"),
        (b"The quick brown fox jumps over the lazy dog", 0, "6c1b07bc7bbc4be347939ac4a93c437a"),
        (b"The quick brown fox jumps over the lazy dog.", 0, "c902e99e1f4899cde7b68789a3a15d69"),
        (b"the quick brown fox jumps over the lazy dog", 0, "b386ade2fee9e4bc7f4b6e4074e3e20a"),
        (b"THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG", 0x9747B28C, "6c8ad027e39089788ad2cb67789ca4cf"),
    ],
)
def test_murmur3_matches_published_vectors(data: bytes, seed: int, digest: str) -> None:
    assert murmur3_x64_128(data, seed).hex() == digest


def test_name_hash_is_h1_read_most_significant_bits_first() -> None:
    """kubo reads the first 8 bytes as h1, big-endian; the root bucket is its top byte."""
    h = name_hash("hello")
    assert h == 0xCBD8A7B341BD9B02
    assert [bucket(h, d) for d in range(3)] == [0xCB, 0xD8, 0xA7]


def test_sharded_folder_is_the_importers_hamt(tmp_path: Path) -> None:
    """3,000 licence files: past the threshold, with sub-shards: every block as the importer's."""
    files = _licences(3000)
    ref = folder_reference(files, tmp_path / "f")
    blocks = dict(folder_blocks(files))
    assert folder_cid(files) == ref["root"]
    assert {c: b.hex() for c, b in blocks.items()} == ref["blocks"]
    root = read_node(blocks[folder_cid(files)])
    assert (root.type, root.hash_type, root.fanout) == (UNIXFS_HAMT_SHARD, MURMUR3_X64_64, FANOUT)
    assert any(len(x.name) == 2 for x in root.links), "3,000 names in 256 buckets make sub-shards"


def test_small_folder_stays_flat_and_equals_the_importer(tmp_path: Path) -> None:
    files = _licences(20)
    assert folder_cid(files) == folder_reference(files, tmp_path / "f")["root"]
    assert read_node(dict(folder_blocks(files))[folder_cid(files)]).type == UNIXFS_DIRECTORY


@pytest.mark.parametrize("extra", [0, 1])
def test_threshold_boundary_agrees_with_the_importer(tmp_path: Path, extra: int) -> None:
    """Exactly at the threshold a folder stays flat; one byte over, it is sharded (both as the JS
    importer decides with the same threshold and the links-bytes estimate)."""
    files = _licences(30)
    threshold = 30 * PER - extra
    ours = list(folder_blocks(files, threshold=threshold))
    ref = folder_reference(files, tmp_path / "f", threshold)
    assert ours[-1][0] == ref["root"]
    assert read_node(ours[-1][1]).type == (UNIXFS_HAMT_SHARD if extra else UNIXFS_DIRECTORY)


def test_default_threshold_is_the_importers_default(tmp_path: Path) -> None:
    """The largest flat folder and the smallest sharded one, at IPFS's own 256 KiB."""
    files = _licences(SHARD_THRESHOLD // PER + 1)
    fits = dict(list(files.items())[:-1])
    assert read_node(dict(folder_blocks(fits))[folder_cid(fits)]).type == UNIXFS_DIRECTORY
    assert read_node(dict(folder_blocks(files))[folder_cid(files)]).type == UNIXFS_HAMT_SHARD
    assert folder_cid(files) == folder_reference(files, tmp_path / "f")["root"]


def test_a_campaign_sized_folder_publishes_exports_and_resolves(tmp_path: Path) -> None:
    """5,000 files (the size that used to be refused): the CAR holds every block of the folder,
    and every name resolves through the shards read back from the CAR to its own file, by our
    walker and by ipfs-unixfs-exporter alike."""
    files = _licences(5000)
    produced = list(folder_blocks(files))
    root = produced[-1][0]
    car = tmp_path / "licences.car"
    write_car(car, [root], produced)
    roots, read = read_car(car)
    blocks = {str(c): b for c, b in read}
    assert roots == [root] and blocks.keys() == {c for c, _ in produced}
    assert _reachable(blocks, root) == blocks.keys()  # no stray block, none missing
    for name, data in files.items():
        assert lookup(blocks.__getitem__, root, name) == cid_for(data)
    absent = ["0" * 64 + ".json", next(iter(files))[:-1]]  # a prefix of a name is no name
    assert [lookup(blocks.__getitem__, root, n) for n in absent] == [None, None]
    expected = {n: cid_for(d) for n, d in files.items()}
    probes = [*list(files)[:: len(files) // 200], *absent]  # the exporter's path walk is slow
    ipfs = read_by_ipfs(root, blocks, probes)
    assert ipfs["listing"] == expected
    assert ipfs["resolved"] == {n: expected.get(n) for n in probes}


def _reachable(blocks: dict[str, bytes], cid: str) -> set[str]:
    seen = {cid}
    if cid_bytes(cid)[1] == DAG_PB_CODEC:
        for link in read_node(blocks[cid]).links:
            seen |= _reachable(blocks, str(cid_from_digest(link.cid[4:], link.cid[1])))
    return seen


@settings(max_examples=60, deadline=None)
@given(
    names=st.sets(
        st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=12), max_size=40
    ),
    threshold=st.integers(0, 1200),
    probe=st.text(min_size=1, max_size=12),
)
def test_flat_or_sharded_every_name_resolves_and_no_other(
    names: set[str], threshold: int, probe: str
) -> None:
    files = {n: n.encode() * 3 for n in names if n not in (".", "..")}
    blocks = dict(folder_blocks(files, threshold=threshold))
    root = list(blocks)[-1]
    weight = sum(len(n.encode()) + 36 for n in files)
    assert read_node(blocks[root]).type == (UNIXFS_HAMT_SHARD if weight > threshold else UNIXFS_DIRECTORY)
    for name, data in files.items():
        assert lookup(blocks.__getitem__, CID(root), name) == cid_for(data)
    if probe not in files:
        assert lookup(blocks.__getitem__, CID(root), probe) is None


def _one_shard(hash_type: int, fanout: int) -> tuple[CID, dict[str, bytes]]:
    leaf = cid_for(b"x")
    label = f"{bucket(name_hash('a.json'), 0):02X}a.json"
    node = shard_node([DirLink(label, cid_bytes(leaf), 1)], b"\x01", hash_type, fanout)
    root = cid_from_digest(sha256(node), DAG_PB_CODEC)
    return root, {root: node}


def test_a_shard_with_another_hash_or_fanout_is_refused_by_name() -> None:
    root, blocks = _one_shard(MURMUR3_X64_64, FANOUT)
    assert lookup(blocks.__getitem__, root, "a.json") == cid_for(b"x")
    for hash_type, fanout in ((0x12, FANOUT), (MURMUR3_X64_64, 16)):
        root, blocks = _one_shard(hash_type, fanout)
        with pytest.raises(MalformedDagError, match="hash function"):
            lookup(blocks.__getitem__, root, "a.json")


@pytest.mark.parametrize(
    "block", [b"\x0a", b"\x0a\x02\x08\x02", b"\x12\x05\x0a\x03abc", b"\x0b", b"\x12\x00", b"\xff" * 11]
)
def test_a_forged_folder_block_is_refused_by_name(block: bytes) -> None:
    root = cid_from_digest(sha256(block), DAG_PB_CODEC)
    with pytest.raises(MalformedDagError):
        lookup({root: block}.__getitem__, root, "a.json")


def test_names_sharing_the_whole_hash_are_refused() -> None:
    """Eight levels of 8 bits use all 64 bits; names still together there cannot be placed (and
    murmur3 is no cryptographic hash: such names can be made). Refused rather than mis-built."""
    clash = [DirLink(n, cid_bytes(cid_for(n.encode())), 1) for n in ("a", "b")]
    entries = [(0x1234, x) for x in clash]  # the same hash for both, as a forged pair would have
    with pytest.raises(BlobError, match="whole 64-bit HAMT hash"):
        list(hamt._shard(entries, 0))
