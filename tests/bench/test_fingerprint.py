"""The fingerprint benchmark at a small size: clustered and uniform data, candidates scanned."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mintloom.bench.fingerprint import Sizes, clustered_rows, measure
from mintloom.provenance.fingerprint import Fingerprint, hamming
from mintloom.verify.index import FingerprintIndex

SMALL = Sizes(rows=6_000, templates=12, real_ads=8, queries=60, ad_size=256)


def test_lookup_figures_on_uniform_and_clustered_data(tmp_path: Path) -> None:
    figs = {f.name: f for f in measure(tmp_path, SMALL)}
    for name in ("uniform", "clustered"):
        assert figs[f"fingerprint_lookup_ms_{name}"].target == 10
        assert figs[f"fingerprint_false_matches_{name}"].value == 0  # unrelated real ads
        assert figs[f"fingerprint_lookup_near_found_{name}"].value == 1.0
    # a near query in clustered data checks its whole cluster: more candidates than uniform data
    # (the median is over near and miss queries alike)
    clustered = figs["fingerprint_lookup_scanned_clustered_median"].value
    assert clustered > 2 * figs["fingerprint_lookup_scanned_uniform_median"].value
    worst = figs["fingerprint_lookup_ms_at_1M"]
    assert worst.value == max(
        figs["fingerprint_lookup_ms_uniform"].value, figs["fingerprint_lookup_ms_clustered"].value
    )


def test_clustered_rows_are_near_identical_variants_of_their_design() -> None:
    ids, ph, _dh = clustered_rows(np.random.default_rng(0), 1_000, 4)
    assert len(ids) == 1_000 and len(set(ids.tolist())) == 1_000
    design = ids // (1 << 40)
    for d in range(4):
        p = ph[design == d]
        assert len(p) == 250
        assert (
            max(hamming(int(p[0]), int(x)) for x in p) <= 12
        )  # two variants: <= 6 bits each from the design
    assert hamming(int(ph[design == 0][0]), int(ph[design == 1][0])) > 12


def test_scanned_counts_the_candidates_a_search_checks() -> None:
    same = np.full(50, 0x0123456789ABCDEF, dtype=np.uint64)
    far = np.full(50, 0xFEDCBA9876543210, dtype=np.uint64)
    index = FingerprintIndex.build(np.arange(100), np.concatenate([same, far]), np.zeros(100, np.uint64))
    assert index.scanned(0x0123456789ABCDEF) == 50  # every identical row, none of the far ones
    assert index.scanned(0x0123456789ABCDEF ^ 1) == 50
    assert len(index.within(0x0123456789ABCDEF, 10)) <= index.scanned(0x0123456789ABCDEF, 10)
    assert index.nearest(Fingerprint(phash=0x0123456789ABCDEF, dhash=0)) is not None
