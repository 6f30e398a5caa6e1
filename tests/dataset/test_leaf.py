"""The dataset leaf encoding and its inclusion proofs: round trips, canonical form, tampering."""

from __future__ import annotations

import contextlib
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import DatasetProofError, ProvenanceError
from mintloom.provenance.dataset import (
    DatasetTree,
    FileEntry,
    RegistryRef,
    decode_leaf,
    encode_leaf,
    proof_from_json,
)
from mintloom.provenance.merkle import hash_leaf, merkle_tree_hash
from mintloom.store.cid import cid_for, cid_from_digest

REF = RegistryRef(31337, "0x" + "11" * 20, 3, "0x" + "22" * 20)
cids = st.binary(min_size=32, max_size=32).map(cid_from_digest)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
licences = st.text(min_size=1, max_size=40).filter(lambda t: 1 <= len(t.encode()) <= 256)
entries = st.builds(FileEntry, cids, st.integers(0, 2**64 - 1), licences, addresses)


@given(entries)
def test_leaf_round_trips_and_is_canonical(entry: FileEntry) -> None:
    data = entry.leaf_data()
    assert data[0] == 1 and len(data) == 1 + 36 + 10 + len(entry.license.encode()) + 20
    assert decode_leaf(data) == entry


@given(entries, st.integers(0, 200), st.integers(0, 255))
def test_any_flipped_byte_changes_the_leaf_or_is_refused(entry: FileEntry, pos: int, bit: int) -> None:
    data = bytearray(entry.leaf_data())
    data[pos % len(data)] ^= 1 << (bit % 8)
    try:
        other = decode_leaf(bytes(data))
    except DatasetProofError:
        return
    assert other != entry


@settings(max_examples=40, deadline=None)
@given(st.lists(entries, min_size=1, max_size=40, unique_by=lambda e: e.cid))
def test_every_entry_proves_against_the_reference_root(items: list[FileEntry]) -> None:
    tree = DatasetTree(items)
    leaves = sorted(e.leaf_data() for e in items)
    assert tree.root() == merkle_tree_hash([hash_leaf(ld) for ld in leaves])
    assert tree.root() == DatasetTree(list(reversed(items))).root(), "order of discovery is irrelevant"
    for e in items:
        proof = tree.proof(e.cid, dataset="d", registry=REF)
        assert proof.computed_root() == tree.root()
        again = proof_from_json(proof.to_json())
        assert again == proof


@settings(max_examples=30, deadline=None)
@given(st.lists(entries, min_size=2, max_size=20, unique_by=lambda e: e.cid), st.data())
def test_a_proof_for_other_terms_or_position_does_not_reach_the_root(
    items: list[FileEntry], data: st.DataObject
) -> None:
    tree = DatasetTree(items)
    e = data.draw(st.sampled_from(items))
    doc = json.loads(tree.proof(e.cid, dataset="d", registry=REF).to_json())
    field = data.draw(st.sampled_from(["license", "contributor", "size", "index", "path"]))
    if field == "license":
        doc["entry"]["license"] += "-changed"
    elif field == "contributor":
        other = "0x" + "ab" * 20
        doc["entry"]["contributor"] = other if e.contributor != other else "0x" + "cd" * 20
    elif field == "size":
        doc["entry"]["size"] = e.size ^ 1
    elif field == "index":
        doc["leaf_index"] = (doc["leaf_index"] + 1) % len(items)
    elif doc["path"]:
        doc["path"][0] = hashlib.sha256(b"forged").hexdigest()
    else:
        return
    forged = proof_from_json(json.dumps(doc))
    with contextlib.suppress(DatasetProofError):  # malformed is refused, well-formed misses the root
        assert forged.computed_root() != tree.root()


def test_duplicate_cids_are_refused_by_the_tree() -> None:
    e = FileEntry(cid_for(b"x"), 1, "CC0-1.0", "0x" + "00" * 20)
    with pytest.raises(ProvenanceError, match="each CID once"):
        DatasetTree([e, FileEntry(e.cid, 1, "MIT", e.contributor)])


@pytest.mark.parametrize(
    "doc",
    [
        "[]",
        "not json",
        '{"format": "mintloom-dataset-proof/9"}',
        '{"format": "mintloom-dataset-proof/1", "entry": {}}',
    ],
)
def test_malformed_proof_json_is_refused_by_name(doc: str) -> None:
    with pytest.raises(DatasetProofError):
        proof_from_json(doc)


def test_hostile_proof_fields_are_refused_by_name() -> None:
    e = FileEntry(cid_for(b"y"), 1, "CC0-1.0", "0x" + "00" * 20)
    good = json.loads(DatasetTree([e, FileEntry(cid_for(b"z"), 1, "CC0-1.0", e.contributor)]).proof(
        e.cid, dataset="d", registry=REF).to_json())  # fmt: skip
    for mutate in (
        lambda d: d.update(leaf_index=-1),
        lambda d: d.update(tree_size=True),
        lambda d: d.update(root="zz" * 32),
        lambda d: d["entry"].update(contributor="mallory"),
        lambda d: d["entry"].update(license=""),
        lambda d: d["entry"].update(cid="QmNotACidV1"),
        lambda d: d.update(path=["00" * 32] * 65),
    ):
        doc = json.loads(json.dumps(good))
        mutate(doc)
        with pytest.raises(DatasetProofError):
            proof_from_json(json.dumps(doc)).computed_root()


def test_leaf_encoding_is_pinned() -> None:
    """The documented byte layout, on a fixed entry (a change breaks every registered root)."""
    e = FileEntry(cid_for(b""), 258, "CC-BY-4.0", "0x" + "ab" * 20)
    expected = bytes([1]) + bytes.fromhex("01551220") + hashlib.sha256(b"").digest()
    expected += (258).to_bytes(8, "big") + (9).to_bytes(2, "big") + b"CC-BY-4.0" + bytes.fromhex("ab" * 20)
    assert encode_leaf(e.cid, e.size, e.license, e.contributor) == expected
