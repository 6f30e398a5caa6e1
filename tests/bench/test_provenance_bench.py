"""The Merkle bench at a small size: both proof paths run over the same tree and the note gives
their ratio (rates are reported, never asserted)."""

from __future__ import annotations

from mintloom.bench.provenance import _merkle


def test_merkle_figures_compare_the_fast_proofs_with_the_walk_in_one_run() -> None:
    figures = {f.name: f for f in _merkle(leaves=5000, proofs=500)}
    assert set(figures) == {"merkle_append_leaves_per_s", "merkle_inclusion_proofs_per_s"}
    proofs = figures["merkle_inclusion_proofs_per_s"]
    assert proofs.value > 0 and proofs.target == 200_000
    assert "tree of 5000 leaves, 500 proofs" in proofs.note and "level-by-level walk" in proofs.note
