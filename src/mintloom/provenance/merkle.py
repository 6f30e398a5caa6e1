"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashing, proofs, verification.

Leaf hash = SHA-256(0x00 ‖ data), interior node = SHA-256(0x01 ‖ left ‖ right); the empty tree's
hash is SHA-256 of the empty string. :class:`MerkleTree` is append-only and keeps, per level, the
hashes of every complete aligned subtree (level k holds ``size >> k`` hashes), so an append costs
about two SHA-256 computations amortized, the root of any earlier size is computed from at most
log2(n) stored subtrees, and an inclusion proof is six list lookups, the siblings above them
shared by its block of 64 leaves (cached per block) and the tree's right-spine hashes (cached
per size). Proof formats and verification follow RFC 9162 §2.1.3 and
§2.1.4 exactly, and are checked against the public RFC 6962 test vectors.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mintloom.errors import LogError
from mintloom.store.cid import cid_bytes

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_PROOF_LENGTH = 64
HASH_SIZE = 32
_LOW = 6
"""Audit-path levels read per proof; the siblings above them are shared by the 2**_LOW leaves of
an aligned block and cached per block (see :meth:`MerkleTree._upper`)."""
_MAX_UPPERS = 1 << 17


def hash_leaf(data: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def leaf_data(cid: str, manifest_hash: bytes, parent: str | None = None) -> bytes:
    """The log entry of an asset: CIDv1 bytes (36) ‖ sha-256 of its C2PA manifest (32) = 68 bytes;
    a derived asset appends its parent's CIDv1 (104 bytes), so its parent is proven with its leaf.

    The same layout is rebuilt on chain by ``CreativeAssets`` to verify lazy registrations.
    """
    if len(manifest_hash) != 32:
        raise LogError(f"manifest hash must be 32 bytes, got {len(manifest_hash)}")
    return cid_bytes(cid) + manifest_hash + (b"" if parent is None else cid_bytes(parent))


@dataclass(frozen=True)
class _Shape:
    starts: list[int]
    heights: list[int]
    tails: list[list[bytes]]


def _largest_pow2_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, by the RFC's recursive definition (reference, O(n))."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _largest_pow2_below(n)
    return hash_children(merkle_tree_hash(leaf_hashes[:k]), merkle_tree_hash(leaf_hashes[k:]))


class MerkleTree:
    """An append-only RFC 9162 tree over leaf hashes, with proofs for any earlier size."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._shape_cache: dict[int, _Shape] = {}
        self._uppers: dict[int, list[bytes]] = {}
        """block << 6 | height -> siblings at levels _LOW..height-1 of the block's leaves: hashes of
        complete subtrees, which appends never change (so it is never cleared but for size)."""

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MerkleTree:
        tree = cls()
        tree.extend_hashes(leaf_hashes)
        return tree

    # -- building -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Append one entry (its data, hashed here); returns its leaf index."""
        return self.extend_hashes([hash_leaf(data)])

    def extend(self, entries: Iterable[bytes]) -> int:
        """Append entries (their data); returns the index of the first."""
        return self.extend_hashes(_sha256(LEAF_PREFIX + d).digest() for d in entries)

    def extend_hashes(self, leaf_hashes: Iterable[bytes]) -> int:
        """Append already-hashed leaves; returns the index of the first."""
        first = self.size
        levels = self._levels
        leaves = levels[0]
        leaves.extend(leaf_hashes)
        if any(len(h) != 32 for h in leaves[first:]):
            del leaves[first:]
            raise LogError("leaf hashes must be 32 bytes")
        # Complete every level: level k+1 holds len(level k) // 2 parents.
        k = 0
        while len(levels[k]) >= 2:
            lower = levels[k]
            if k + 1 == len(levels):
                levels.append([])
            upper = levels[k + 1]
            start = len(upper)
            end = len(lower) // 2
            if start < end:
                upper.extend(
                    _sha256(NODE_PREFIX + lower[2 * i] + lower[2 * i + 1]).digest() for i in range(start, end)
                )
            k += 1
        if self.size != first:
            self._shape_cache.clear()
        return first

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise LogError(f"leaf index {index} out of range for tree size {self.size}")
        return self._levels[0][index]

    # -- hashes -----------------------------------------------------------------------------------
    def _subtree(self, start: int, size: int) -> bytes:
        """MTH of leaves [start, start+size) where the range is RFC-aligned (start a multiple of the
        range's largest power of two), as every subtree reached by PATH/SUBPROOF is."""
        if size & (size - 1) == 0:
            k = size.bit_length() - 1
            return self._levels[k][start >> k]
        k = _largest_pow2_below(size)
        return hash_children(self._subtree(start, k), self._subtree(start + k, size - k))

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the tree at ``size`` (default: now)."""
        n = self.size if size is None else size
        self._check_size(n)
        return EMPTY_ROOT if n == 0 else self._subtree(0, n)

    def _check_size(self, n: int) -> None:
        if not 0 <= n <= self.size:
            raise LogError(f"tree size {n} out of range (log has {self.size} leaves)")

    # -- proofs -----------------------------------------------------------------------------------
    def _shape(self, n: int) -> _Shape:
        """Size n as complete subtrees S1 > S2 > … left to right, with for each S_j the hash of
        everything right of it (the combined remainder) and of the subtrees left of it, nearest
        first: the parts of every audit path that do not depend on the leaf. Cached per size."""
        shape = self._shape_cache.get(n)
        if shape is not None:
            return shape
        levels = self._levels
        starts: list[int] = []
        heights: list[int] = []
        hashes: list[bytes] = []
        start, rest = 0, n
        while rest:
            k = rest.bit_length() - 1
            starts.append(start)
            heights.append(k)
            hashes.append(levels[k][start >> k])
            start += 1 << k
            rest -= 1 << k
        tails: list[list[bytes]] = [[] for _ in starts]
        acc: bytes | None = None
        for j in range(len(starts) - 1, -1, -1):
            tails[j] = [] if acc is None else [acc]
            acc = hashes[j] if acc is None else hash_children(hashes[j], acc)
        for j in range(len(starts)):
            tails[j].extend(reversed(hashes[:j]))
        if len(self._shape_cache) >= 64:
            self._shape_cache.clear()
        shape = _Shape(starts, heights, tails)
        self._shape_cache[n] = shape
        return shape

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[size]): audit path, deepest sibling first. The lowest
        :data:`_LOW` siblings are read directly, those above from the block's cached list, the
        rest (right of and left of the leaf's complete subtree) from the size's shape."""
        levels = self._levels
        n = len(levels[0]) if size is None else size
        if not 0 <= index < n <= len(levels[0]):
            self._check_size(n)
            raise LogError(f"leaf index {index} out of range for tree size {n}")
        shape = self._shape_cache.get(n) or self._shape(n)
        j = bisect_right(shape.starts, index) - 1
        height = shape.heights[j]
        if height < _LOW:
            proof = [levels[lv][(index >> lv) ^ 1] for lv in range(height)]
        else:
            l0, l1, l2, l3, l4, l5 = levels[:_LOW]
            proof = [l0[index ^ 1], l1[(index >> 1) ^ 1], l2[(index >> 2) ^ 1],
                     l3[(index >> 3) ^ 1], l4[(index >> 4) ^ 1], l5[(index >> 5) ^ 1]]  # fmt: skip
            upper = self._uppers.get((index >> _LOW) << 6 | height)
            proof += self._upper(index >> _LOW, height) if upper is None else upper
        proof += shape.tails[j]
        return proof

    def _upper(self, block: int, height: int) -> list[bytes]:
        """Siblings at levels _LOW..height-1 of the leaves of ``block`` (aligned 2**_LOW leaves)
        in a complete subtree of ``height``: shared by all its leaves, computed once."""
        levels = self._levels
        upper = [levels[lv][(block >> (lv - _LOW)) ^ 1] for lv in range(_LOW, height)]
        if len(self._uppers) >= _MAX_UPPERS:
            self._uppers.clear()
        self._uppers[block << 6 | height] = upper  # height <= 63: MAX_PROOF_LENGTH
        return upper

    def inclusion_proof_reference(self, index: int, size: int | None = None) -> list[bytes]:
        """The same path walked level by level, without the block cache (tests compare the two)."""
        n = self.size if size is None else size
        self._check_size(n)
        if not 0 <= index < n:
            raise LogError(f"leaf index {index} out of range for tree size {n}")
        shape = self._shape(n)
        j = bisect_right(shape.starts, index) - 1
        proof = [self._levels[lv][(index >> lv) ^ 1] for lv in range(shape.heights[j])]
        proof.extend(shape.tails[j])
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[new_size]) for 1 <= old_size <= new_size (the RFC leaves
        m = 0 undefined: the first anchor of a log needs no proof, see :func:`verify_consistency`)."""
        n = self.size if new_size is None else new_size
        self._check_size(n)
        if not 1 <= old_size <= n:
            raise LogError(f"consistency proof needs 1 <= old size ({old_size}) <= new size ({n})")
        if old_size == n:
            return []
        return self._subproof(old_size, 0, n, True)

    def _subproof(self, m: int, start: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [self._subtree(start, n)]
        k = _largest_pow2_below(n)
        if m <= k:
            return [*self._subproof(m, start, k, complete), self._subtree(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self._subtree(start, k)]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -----------------------------------------------
def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from an audit path; raises LogError if the proof is malformed."""
    if not 0 <= index < size:
        raise LogError(f"leaf index {index} out of range for tree size {size}")
    if len(leaf) != HASH_SIZE:
        raise LogError(f"a leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
    if len(proof) > MAX_PROOF_LENGTH or any(len(p) != HASH_SIZE for p in proof):
        raise LogError("malformed inclusion proof")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise LogError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogError("inclusion proof too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    if len(root) != HASH_SIZE:
        return False
    try:
        return root_from_inclusion_proof(index, size, leaf, proof) == root
    except LogError:
        return False


def verify_consistency(
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
    *,
    first_anchor: bool = False,
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree at old_size is a prefix of new_size's?

    Every hash must be 32 bytes. ``old_size`` 0 (undefined in the RFC) is accepted only with
    ``first_anchor``: the first checkpoint of a log, from the empty tree, with an empty proof."""
    if old_size < 0 or new_size < old_size or len(proof) > MAX_PROOF_LENGTH:
        return False
    if any(len(h) != HASH_SIZE for h in (*proof, old_root, new_root)):
        return False
    if old_size == 0:
        return first_anchor and new_size > 0 and not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
