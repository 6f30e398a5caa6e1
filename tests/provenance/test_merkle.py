from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import LogError
from mintloom.provenance.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    hash_leaf,
    leaf_data,
    merkle_tree_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from mintloom.store.cid import cid_for

# Public RFC 6962 reference vectors (certificate-transparency / transparency-dev test data).
LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip

TREE = MerkleTree()
TREE.extend(LEAVES)


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def test_roots_for_every_size_match_reference() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    hashes = [hash_leaf(d) for d in LEAVES]
    for n in range(9):
        assert TREE.root(n).hex() == ROOTS[n]
        assert merkle_tree_hash(hashes[:n]).hex() == ROOTS[n]


def test_incremental_appends_match_reference() -> None:
    t = MerkleTree()
    for n, d in enumerate(LEAVES, start=1):
        assert t.append(d) == n - 1
        assert t.root().hex() == ROOTS[n]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    got = TREE.inclusion_proof(index, size)
    assert [p.hex() for p in got] == proof
    leaf = hash_leaf(LEAVES[index])
    assert verify_inclusion(index, size, leaf, got, h(ROOTS[size]))
    assert not verify_inclusion(index, size, leaf, got, h(ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[str]) -> None:
    got = TREE.consistency_proof(old, new)
    assert [p.hex() for p in got] == proof
    assert verify_consistency(old, new, got, h(ROOTS[old]), h(ROOTS[new]))
    if old != new:
        assert not verify_consistency(old, new, got, h(ROOTS[old]), h(ROOTS[new - 1]))


def _tree(n: int, salt: int) -> tuple[MerkleTree, list[bytes]]:
    data = [hashlib.sha256(f"{salt}:{i}".encode()).digest()[: (i % 7) + 1] for i in range(n)]
    t = MerkleTree()
    t.extend(data)
    return t, [hash_leaf(d) for d in data]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_inclusion_proof_verifies_and_alterations_fail(n: int, data: st.DataObject) -> None:
    t, leaves = _tree(n, n)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = t.inclusion_proof(index, size)
    root = t.root(size)
    assert root == merkle_tree_hash(leaves[:size])
    assert verify_inclusion(index, size, leaves[index], proof, root)
    # wrong leaf, wrong index, flipped byte, dropped or extra node: all fail (the size itself is
    # bound by the signed checkpoint, not by the path: sizes with the same path shape verify alike)
    other = leaves[(index + 1) % size]
    if other != leaves[index]:
        assert not verify_inclusion(index, size, other, proof, root)
    if size > 1:
        assert not verify_inclusion((index + 1) % size, size, leaves[index], proof, root)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="node")
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        assert not verify_inclusion(index, size, leaves[index], bad, root)
        assert not verify_inclusion(index, size, leaves[index], proof[:-1], root)
    assert not verify_inclusion(index, size, leaves[index], [*proof, root], root)


def _rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D_n), by its recursive definition."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_rfc_path(m, leaves[:k]), merkle_tree_hash(leaves[k:])]
    return [*_rfc_path(m - k, leaves[k:]), merkle_tree_hash(leaves[:k])]


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 2500), st.integers(0, 600), st.data())
def test_block_cached_proofs_equal_the_reference_path(n: int, more: int, data: st.DataObject) -> None:
    """The fast path (lowest levels read directly, the rest from per-block caches and the size's
    shape) gives the RFC's PATH byte for byte, for any size and index, also for earlier sizes
    after appends (cached blocks stay valid: complete subtrees never change)."""
    leaves = [hashlib.sha256(f"{n}:{i}".encode()).digest() for i in range(n + more)]
    t = MerkleTree.from_leaf_hashes(leaves[:n])
    asked = []
    for _ in range(3):
        size = data.draw(st.integers(1, n), label="size")
        index = data.draw(st.integers(0, size - 1), label="index")
        asked.append((index, size))
        assert t.inclusion_proof(index, size) == _rfc_path(index, leaves[:size])
        assert t.inclusion_proof(index, size) == t.inclusion_proof_reference(index, size)
    t.extend_hashes(leaves[n:])
    for index, size in asked:
        assert t.inclusion_proof(index, size) == _rfc_path(index, leaves[:size])
    index = data.draw(st.integers(0, n + more - 1), label="index after appends")
    assert t.inclusion_proof(index) == _rfc_path(index, leaves)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_consistency_proof_verifies_and_alterations_fail(n: int, data: st.DataObject) -> None:
    t, leaves = _tree(n, n + 1)
    new = data.draw(st.integers(1, n), label="new")
    old = data.draw(st.integers(1, new), label="old")
    proof = t.consistency_proof(old, new)
    r_old, r_new = t.root(old), t.root(new)
    assert verify_consistency(old, new, proof, r_old, r_new)
    if old < new:
        assert proof
        k = data.draw(st.integers(0, len(proof) - 1), label="node")
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        assert not verify_consistency(old, new, bad, r_old, r_new)
        assert not verify_consistency(old, new, proof[:-1], r_old, r_new)
        assert not verify_consistency(old, new, proof, r_new, r_new)
        # a forked history: same old size, different leaf inside it
        forked = list(leaves[:new])
        forked[old - 1] = hash_leaf(b"forged")
        fork = MerkleTree.from_leaf_hashes(forked)
        assert not verify_consistency(old, new, fork.consistency_proof(old, new), r_old, fork.root())


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 70),
    st.integers(0, 70),
    st.lists(st.binary(min_size=0, max_size=40), max_size=12),
    st.binary(max_size=40),
)
def test_verifiers_never_crash_on_garbage(index: int, size: int, proof: list[bytes], root: bytes) -> None:
    assert verify_inclusion(index, size, b"\0" * 32, proof, root) in (True, False)
    assert verify_consistency(index, size, proof, root, root) in (True, False)


def test_out_of_range_requests_are_errors() -> None:
    with pytest.raises(LogError):
        TREE.inclusion_proof(8, 8)
    with pytest.raises(LogError):
        TREE.root(9)
    with pytest.raises(LogError):
        TREE.consistency_proof(5, 4)
    with pytest.raises(LogError):
        root_from_inclusion_proof(0, 0, b"\0" * 32, [])
    with pytest.raises(LogError):
        MerkleTree().extend_hashes([b"short"])


def test_leaf_data_layout() -> None:
    cid = cid_for(b"hello world")
    data = leaf_data(cid, b"\x11" * 32)
    assert len(data) == 68
    assert data[:4] == bytes([0x01, 0x55, 0x12, 0x20])
    assert data[4:36] == hashlib.sha256(b"hello world").digest()
    with pytest.raises(LogError):
        leaf_data(cid, b"\x11" * 31)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 40), st.integers(0, 33).filter(lambda n: n != 32), st.data())
def test_hashes_that_are_not_32_bytes_are_refused(n: int, bad_len: int, data: st.DataObject) -> None:
    t, leaves = _tree(n + 2, n + 2)
    size = n + 2
    index = data.draw(st.integers(0, size - 1), label="index")
    proof, root, bad = t.inclusion_proof(index, size), t.root(size), b"\x07" * bad_len
    assert verify_inclusion(index, size, leaves[index], proof, root)
    assert not verify_inclusion(index, size, bad, proof, root)  # a short or long leaf hash
    assert not verify_inclusion(index, size, leaves[index], proof, bad)  # a short or long root
    with pytest.raises(LogError, match="32 bytes"):
        root_from_inclusion_proof(index, size, bad, proof)
    old = data.draw(st.integers(1, size), label="old")
    cons = t.consistency_proof(old, size)
    assert verify_consistency(old, size, cons, t.root(old), root)
    assert not verify_consistency(old, size, cons, bad, root)
    assert not verify_consistency(old, size, cons, t.root(old), bad)
    # a truncated root that is a prefix of the genuine one is still refused
    assert not verify_consistency(old, size, cons, t.root(old)[: bad_len % 32], root)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 40),
    st.lists(st.binary(min_size=32, max_size=32), max_size=3),
    st.binary(min_size=32, max_size=32),
)
def test_consistency_from_size_zero_only_as_the_first_anchor(
    n: int, proof: list[bytes], any_root: bytes
) -> None:
    t, _ = _tree(max(n, 1), max(n, 1))
    new_root = t.root(n)
    # RFC 9162 leaves PROOF(0, n) undefined: by default nothing verifies from size 0
    assert not verify_consistency(0, n, [], EMPTY_ROOT, new_root)
    assert not verify_consistency(0, n, proof, any_root, new_root)
    with pytest.raises(LogError):
        t.consistency_proof(0, n)
    # explicitly the first anchor: from the empty tree, with an empty proof, to a non-empty tree
    assert verify_consistency(0, n, [], EMPTY_ROOT, new_root, first_anchor=True) is (n > 0)
    assert not verify_consistency(0, n, [], any_root, new_root, first_anchor=True) or any_root == EMPTY_ROOT
    if proof:
        assert not verify_consistency(0, n, proof, EMPTY_ROOT, new_root, first_anchor=True)
