"""How `verify` prints a trained model's lineage: model → run → dataset root → contributors,
each link's check shown, a failed one in red."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mintloom.cli.verify import _license_rows
from mintloom.verify.report import LicenseInfo, ModelLineage, TrainedDataset, TrainingRunLineage

RUN = TrainingRunLineage(
    run_hash="ab" * 32, record_cid="bafkrun", signature_valid=True, weights_match=True, method="lora", seed=7,
    datasets=[TrainedDataset(id=1, root="cd" * 32, file_count=4, contributors=3, root_on_chain=True,
                             manifest_on_chain=True)],
)  # fmt: skip


def rows(run: TrainingRunLineage) -> str:
    facts = Table("what", "value")
    info = LicenseInfo(model=ModelLineage(id=2, trainer="0xT", license="proprietary", training_run=run))
    _license_rows(facts, info, {"source_type": "trainedAlgorithmicMedia"})
    console = Console(width=300, record=True)
    console.print(facts)
    return console.export_text()


def test_the_walk_is_printed_with_each_check() -> None:
    text = rows(RUN)
    assert "model on chain" in text and "#2 by 0xT" in text
    assert "bafkrun: lora, seed 7, signature valid, weights match the model" in text
    assert f"dataset #1: root {'cd' * 32} over 4 files = root on chain" in text
    assert "3 contributor(s), manifest = chain entry" in text


def test_a_broken_link_is_shown_not_hidden() -> None:
    moved = RUN.datasets[0].model_copy(update={"root_on_chain": False, "manifest_on_chain": None})
    assert "≠ root on chain" in rows(RUN.model_copy(update={"datasets": [moved]}))
    assert "no manifest here" in rows(RUN.model_copy(update={"datasets": [moved]}))
    missing = TrainingRunLineage(run_hash="ab" * 32, error="blob bafk… is not in this store")
    assert f"{'ab' * 32} (on chain): blob bafk… is not in this store" in rows(missing)


def test_a_named_failure_is_shown_with_the_links_it_broke() -> None:
    untrusted = RUN.model_copy(
        update={"signer_trusted": False, "failure": "RunSignerUntrusted", "error": "signed by another key"}
    )
    text = rows(untrusted)
    assert "signature valid by an untrusted key" in text
    assert "RunSignerUntrusted: signed by another key" in text
    assert f"dataset #1: root {'cd' * 32}" in text  # the readable record's links stay visible
    unknown = TrainingRunLineage(run_hash="ab" * 32, failure="UnknownTrainingRun", error="no record here")
    assert f"{'ab' * 32} (on chain): UnknownTrainingRun: no record here" in rows(unknown)
    assert "by a trusted key" in rows(RUN.model_copy(update={"signer_trusted": True}))
