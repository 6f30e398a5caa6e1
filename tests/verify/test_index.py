"""Multi-index hashing: exact agreement with a linear scan, thresholds, incremental adds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintloom.errors import VerifyError
from mintloom.provenance.fingerprint import Fingerprint
from mintloom.verify.index import FingerprintIndex, popcount


def _random(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)


def _flip(value: int, k: int, rng: np.random.Generator) -> int:
    for b in rng.choice(64, k, replace=False):
        value ^= 1 << int(b)
    return value


def _linear(phashes: np.ndarray, q: int, r: int) -> np.ndarray:
    return np.nonzero(popcount(phashes ^ np.uint64(q)) <= r)[0]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    m=st.sampled_from([2, 3, 4, 5, 8]),
    k=st.integers(0, 16),
    radius=st.integers(0, 14),
    clustered=st.booleans(),
)
def test_within_equals_linear_scan(  # noqa: PLR0917
    seed: int, n: int, m: int, k: int, radius: int, clustered: bool
) -> None:
    rng = np.random.default_rng(seed)
    phashes = _random(rng, n)
    if clustered:  # many rows a few bits from each other, so buckets collide and radii overlap
        base = int(phashes[0])
        phashes = np.array([_flip(base, int(rng.integers(0, 12)), rng) for _ in range(n)], dtype=np.uint64)
    idx = FingerprintIndex.build(range(n), phashes, _random(rng, n), m=m)
    for _ in range(5):
        q = _flip(int(phashes[rng.integers(n)]), k, rng) if rng.random() < 0.8 else int(_random(rng, 1)[0])
        assert np.array_equal(idx.within(q, radius), _linear(phashes, q, radius))


def test_nearest_picks_closest_and_confirms_with_dhash() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    ph, dh = _random(rng, n), _random(rng, n)
    idx = FingerprintIndex.build(np.arange(n) + 100, ph, dh)
    q = Fingerprint(phash=_flip(int(ph[42]), 3, rng), dhash=_flip(int(dh[42]), 2, rng))
    match = idx.nearest(q)
    assert match is not None
    assert (match.id, match.phash_distance, match.dhash_distance) == (142, 3, 2)
    assert match.score == pytest.approx(1 - 5 / 128)
    # the pHash is close but the dHash disagrees: not a match
    assert idx.nearest(Fingerprint(phash=int(ph[42]), dhash=int(dh[42]) ^ (2**20 - 1))) is None
    # too far in pHash
    assert idx.nearest(Fingerprint(phash=_flip(int(ph[42]), 12, rng), dhash=int(dh[42]))) is None
    assert idx.nearest(Fingerprint(phash=_flip(int(ph[42]), 12, rng), dhash=int(dh[42])), 12) is not None


def test_repeated_ids_collapse_to_best_row() -> None:
    base = 0x0123_4567_89AB_CDEF
    idx = FingerprintIndex.build([7, 7, 8], [base ^ 0b111, base ^ 0b1, base ^ 0b11111], [0, 0, 0])
    found = idx.matches(Fingerprint(phash=base, dhash=0))
    assert [(m.id, m.phash_distance) for m in found] == [(7, 1), (8, 5)]


def test_add_is_incremental_and_lazy() -> None:
    rng = np.random.default_rng(2)
    ph, dh = _random(rng, 300), _random(rng, 300)
    idx = FingerprintIndex.build(range(100), ph[:100], dh[:100])
    idx.add(range(100, 300), ph[100:], dh[100:])
    idx.add_fingerprints(999, [Fingerprint(phash=5, dhash=6)])
    assert len(idx) == 301
    for i in (0, 150, 299):
        m = idx.nearest(Fingerprint(phash=int(ph[i]), dhash=int(dh[i])))
        assert m is not None and m.id == i and m.phash_distance == 0
    assert idx.nearest(Fingerprint(phash=5, dhash=6)) == idx.matches(Fingerprint(phash=5, dhash=6))[0]


def test_empty_index() -> None:
    idx = FingerprintIndex()
    assert len(idx) == 0
    assert idx.nearest(Fingerprint(phash=1, dhash=1)) is None
    assert idx.within(1, 10).size == 0


def test_input_validation() -> None:
    with pytest.raises(VerifyError):
        FingerprintIndex(m=1)
    with pytest.raises(VerifyError):
        FingerprintIndex.build([1, 2], [1], [1])
    with pytest.raises(VerifyError):
        FingerprintIndex.build([1], np.array([-1]), [1])
    idx = FingerprintIndex.build([1], [1], [1])
    with pytest.raises(VerifyError):
        idx.within(1, 65)
    with pytest.raises(VerifyError):
        idx.within(2**64, 1)
