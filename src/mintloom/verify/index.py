"""Nearest-neighbour search over 64-bit pHashes by multi-index hashing (Norouzi, Punjani, Fleet 2012).

Each 64-bit pHash is split into ``m`` disjoint substrings (``m = 4`` → four 16-bit substrings). By
the pigeonhole principle, two hashes within Hamming distance ``r`` agree to within ``floor(r / m)``
bits on at least one substring, so a radius-``r`` search only has to probe, in each of the ``m``
tables, the substring values within ``floor(r / m)`` bit flips of the query's substring (137 probes
per table for ``r = 10``), then verify the candidates with the full 64-bit distance. The result is
exactly what a linear scan within radius ``r`` returns.

Tables are numpy arrays, not dicts: per substring, the row ids sorted by substring value plus the
sorted values themselves; a probe is a ``searchsorted`` pair. At one million rows a table costs
6 bytes a row (uint16 value + int32 row), building takes well under a second and memory stays
~40 MB including the hashes themselves.

:meth:`FingerprintIndex.nearest` confirms pHash candidates with the dHash. The default thresholds
come from measurements on procedurally generated ad variants that share one brand palette and one
layout (see ``tests/verify/test_fingerprint.py`` and the module docstring of
:mod:`mintloom.provenance.fingerprint`): see :data:`PHASH_MAX_DISTANCE` and :data:`DHASH_MAX_DISTANCE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from mintloom.errors import VerifyError
from mintloom.provenance.fingerprint import HASH_BITS, Fingerprint

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

#: Default pHash search radius for :meth:`FingerprintIndex.nearest` (see module docstring).
PHASH_MAX_DISTANCE = 10
#: A pHash candidate is only a match if its dHash is also within this distance ...
DHASH_MAX_DISTANCE = 12
#: ... and the sum of both distances is within this.
COMBINED_MAX_DISTANCE = 20


@dataclass(frozen=True)
class Match:
    """One index row that matched a query. ``score`` is 1.0 for identical hashes, 0.0 at 128 bits off."""

    id: int
    phash_distance: int
    dhash_distance: int
    score: float


if hasattr(np, "bitwise_count"):

    def popcount(x: U64) -> npt.NDArray[np.uint8]:
        """Bit count of every uint64."""
        out: npt.NDArray[np.uint8] = np.bitwise_count(x)
        return out

else:  # pragma: no cover - numpy < 2
    _POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def popcount(x: U64) -> npt.NDArray[np.uint8]:
        """Bit count of every uint64."""
        b = np.ascontiguousarray(x, dtype=np.uint64).view(np.uint8).reshape(*x.shape, 8)
        out: npt.NDArray[np.uint8] = _POP8[b].sum(axis=-1, dtype=np.uint8)
        return out


def _widths(m: int) -> list[int]:
    base, extra = divmod(HASH_BITS, m)
    return [base + (1 if i < extra else 0) for i in range(m)]


@cache
def _flip_masks(width: int, radius: int) -> npt.NDArray[np.uint32]:
    """All ``width``-bit values with at most ``radius`` bits set (the XOR masks to probe)."""
    radius = min(radius, width)
    if width <= 20:
        vals = np.arange(1 << width, dtype=np.uint32)
        return vals[popcount(vals.astype(np.uint64)) <= radius]
    out: list[int] = [0]
    frontier = [0]
    for _ in range(radius):
        nxt = {v | (1 << b) for v in frontier for b in range(width) if not v >> b & 1}
        frontier = sorted(nxt)
        out.extend(frontier)
    return np.array(out, dtype=np.uint32)


def _as_u64(a: npt.ArrayLike, name: str) -> U64:
    try:
        arr = np.asarray(a)
        if arr.dtype != np.uint64:
            if arr.dtype.kind == "i" and arr.size and int(arr.min()) < 0:
                raise VerifyError(f"{name} must be unsigned 64-bit hashes, got negative values")
            if arr.dtype.kind == "O":
                arr = np.array([int(v) for v in arr.ravel()], dtype=np.uint64).reshape(arr.shape)
            else:
                arr = arr.astype(np.uint64, casting="unsafe" if arr.dtype.kind in "iu" else "same_kind")
    except (TypeError, ValueError, OverflowError) as exc:
        raise VerifyError(f"{name} must be an array of unsigned 64-bit hashes: {exc}") from exc
    if arr.ndim != 1:
        raise VerifyError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


class FingerprintIndex:
    """Multi-index hash table of (id, pHash, dHash) rows; ids may repeat (several views per asset)."""

    def __init__(self, m: int = 4) -> None:
        if not 2 <= m <= 16:
            raise VerifyError(f"the number of substrings m must be between 2 and 16, got {m}")
        self.m = m
        self._widths = _widths(m)
        self._shifts = [HASH_BITS - sum(self._widths[: i + 1]) for i in range(m)]
        self._ids: I64 = np.zeros(0, np.int64)
        self._phashes: U64 = np.zeros(0, np.uint64)
        self._dhashes: U64 = np.zeros(0, np.uint64)
        self._pending: list[tuple[I64, U64, U64]] = []
        # per table: substring values sorted, and the row of each sorted value
        self._keys: list[npt.NDArray[np.uint32]] = []
        self._rows: list[npt.NDArray[np.int32]] = []
        self._built = False

    # --- construction --------------------------------------------------------------------------------
    @classmethod
    def build(
        cls, ids: Sequence[int] | npt.ArrayLike, phashes: npt.ArrayLike, dhashes: npt.ArrayLike, *, m: int = 4
    ) -> FingerprintIndex:
        index = cls(m)
        index.add(ids, phashes, dhashes)
        index._rebuild()
        return index

    def add(self, ids: Sequence[int] | npt.ArrayLike, phashes: npt.ArrayLike, dhashes: npt.ArrayLike) -> None:
        """Append rows; the tables are rebuilt lazily on the next query."""
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        p, d = _as_u64(phashes, "phashes"), _as_u64(dhashes, "dhashes")
        if not len(id_arr) == len(p) == len(d):
            raise VerifyError(
                f"ids, phashes and dhashes differ in length ({len(id_arr)}, {len(p)}, {len(d)})"
            )
        if len(id_arr) == 0:
            return
        self._pending.append((id_arr, p, d))
        self._built = False

    def add_fingerprints(self, id_: int, fps: Sequence[Fingerprint]) -> None:
        """Append one asset's fingerprints (e.g. its registration views) under one id."""
        self.add(
            [id_] * len(fps),
            np.array([f.phash for f in fps], np.uint64),
            np.array([f.dhash for f in fps], np.uint64),
        )

    def _rebuild(self) -> None:
        if self._pending:
            self._ids = np.concatenate([self._ids, *(t[0] for t in self._pending)])
            self._phashes = np.concatenate([self._phashes, *(t[1] for t in self._pending)])
            self._dhashes = np.concatenate([self._dhashes, *(t[2] for t in self._pending)])
            self._pending.clear()
        if len(self._ids) >= 2**31:
            raise VerifyError("a fingerprint index holds at most 2**31 rows")
        self._keys, self._rows = [], []
        for width, shift in zip(self._widths, self._shifts, strict=True):
            sub = ((self._phashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.uint32)
            order = np.argsort(sub, kind="stable").astype(np.int32)
            self._keys.append(sub[order])
            self._rows.append(order)
        self._built = True

    def __len__(self) -> int:
        return len(self._ids) + sum(len(t[0]) for t in self._pending)

    # --- search --------------------------------------------------------------------------------------
    def _candidates(self, phash: int, radius: int) -> npt.NDArray[np.int32]:
        if not self._built:
            self._rebuild()
        sub_radius = radius // self.m
        parts: list[npt.NDArray[np.int32]] = []
        for width, shift, keys, rows in zip(self._widths, self._shifts, self._keys, self._rows, strict=True):
            q = np.uint32((phash >> shift) & ((1 << width) - 1))
            probes = _flip_masks(width, sub_radius) ^ q
            lo = np.searchsorted(keys, probes, side="left")
            hi = np.searchsorted(keys, probes, side="right")
            lens = hi - lo
            hit = lens > 0
            if not hit.any():
                continue
            lo, lens = lo[hit], lens[hit]
            total = int(lens.sum())
            # indices lo[0]..hi[0]-1, lo[1]..hi[1]-1, ... without a Python loop
            starts = np.repeat(lo - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
            parts.append(rows[starts + np.arange(total)])
        if not parts:
            return np.zeros(0, np.int32)
        return np.unique(np.concatenate(parts))

    def scanned(self, phash: int, radius: int = PHASH_MAX_DISTANCE) -> int:
        """How many rows a radius-``radius`` search for ``phash`` checks in full (its candidates):
        the work a query costs, which clustered data (many near-identical variants) drives up."""
        return len(self._candidates(phash, radius))

    def within(self, phash: int, radius: int) -> npt.NDArray[np.int64]:
        """Row numbers (sorted) whose pHash is within ``radius`` bits of ``phash``; exact."""
        if not 0 <= phash < 1 << HASH_BITS:
            raise VerifyError("phash must be an unsigned 64-bit integer")
        if not 0 <= radius <= HASH_BITS:
            raise VerifyError(f"radius must be between 0 and {HASH_BITS}, got {radius}")
        cand = self._candidates(phash, radius)
        dist = popcount(self._phashes[cand] ^ np.uint64(phash))
        return cand[dist <= radius].astype(np.int64)

    def matches(
        self,
        fp: Fingerprint,
        max_distance: int = PHASH_MAX_DISTANCE,
        *,
        max_dhash_distance: int = DHASH_MAX_DISTANCE,
        max_combined: int = COMBINED_MAX_DISTANCE,
    ) -> list[Match]:
        """Every id with a row within all thresholds, best first (one entry per id, its best row)."""
        rows = self.within(fp.phash, max_distance)
        if len(rows) == 0:
            return []
        pd = popcount(self._phashes[rows] ^ np.uint64(fp.phash)).astype(np.int64)
        dd = popcount(self._dhashes[rows] ^ np.uint64(fp.dhash)).astype(np.int64)
        ok = (dd <= max_dhash_distance) & (pd + dd <= max_combined)
        rows, pd, dd = rows[ok], pd[ok], dd[ok]
        order = np.lexsort((dd, pd, pd + dd))
        seen: set[int] = set()
        out: list[Match] = []
        for k in order:
            id_ = int(self._ids[rows[k]])
            if id_ in seen:
                continue
            seen.add(id_)
            p, d = int(pd[k]), int(dd[k])
            out.append(
                Match(id=id_, phash_distance=p, dhash_distance=d, score=1.0 - (p + d) / (2 * HASH_BITS))
            )
        return out

    def nearest(
        self,
        fp: Fingerprint,
        max_distance: int = PHASH_MAX_DISTANCE,
        *,
        max_dhash_distance: int = DHASH_MAX_DISTANCE,
        max_combined: int = COMBINED_MAX_DISTANCE,
    ) -> Match | None:
        """The best match (smallest pHash + dHash distance) within all thresholds, or None."""
        found = self.matches(
            fp, max_distance, max_dhash_distance=max_dhash_distance, max_combined=max_combined
        )
        return found[0] if found else None
