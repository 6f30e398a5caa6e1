"""An asset generated with a trained model, verified on a real anvil chain: the demo's second
campaign writes its copy with the fine-tuned model, and `verify` walks model → training run →
dataset root → contributor count with each link checked. Then every way of breaking that run
is tried; each is named and each turns the verdict."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mintloom.api.app import create_app
from mintloom.chain_lookup import training_run, verify_context
from mintloom.cli.demo_trained import CAMPAIGN, MODEL, trained_campaign_step
from mintloom.cli.demo_training import training_step
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.ledger.training import run_of
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.training import TrainingRecord, sign_run
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_from_digest
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from mintloom.verify.report import ModelLineage, TrainingRunLineage, Verdict, VerifyReport
from mintloom.verify.verifier import _training_check, verify_path
from tests.api.test_studio_pages import login

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]

MALLORY = 6
"""anvil development account of a party who re-registers our run or forges one"""


@pytest.fixture
def trained(studio: Studio, shared_anvil: NodeInfo, capsys: pytest.CaptureFixture[str]) -> VerifyReport:
    """The demo's training step and trained-model campaign, run once; the copy asset's report."""
    import torch

    torch.set_num_threads(1)
    deploy_all(studio.chain)
    training_step(lambda _s: None, studio, lambda i: party(studio, i))
    report = trained_campaign_step(lambda _s: None, studio)
    assert report is not None
    return report


def party(studio: Studio, index: int) -> ChainClient:
    chain = studio.chain
    return ChainClient(chain.rpc_url, dev_key(index), studio.db, chain.deployments)


def copy_asset(studio: Studio) -> Path:
    return sorted((studio.workspace.out_dir / CAMPAIGN).rglob("*.txt"))[0]


def _the_studio_shows_the_run(studio: Studio, model_id: int) -> None:
    """The studio's asset page names the same chain in its lineage, each link checked."""
    (copy,) = Catalog(studio.db).assets(CAMPAIGN, kind="copy")[:1]
    with TestClient(create_app(studio), follow_redirects=False) as c:
        login(c, TokenStore(studio.db).create("viewer", ["read"])[1])
        page = c.get(f"/studio/assets/{copy.cid}")
    assert page.status_code == 200
    line = next(li for li in page.text.split("<li>") if li.startswith("Training run:"))
    assert "lora" in line and "signature valid by a trusted signer" in line and "weights match" in line
    assert "on chain" in line and "1 contributors" in line and "broken" not in line, line
    assert f"#{model_id}" in page.text


def test_verify_shows_the_trained_models_chain_with_each_proof(
    trained: VerifyReport, studio: Studio, capsys: pytest.CaptureFixture[str]
) -> None:
    report = trained
    assert report.verdict is Verdict.VERIFIED, [c for c in report.checks if c.status != "pass"]
    assert report.origin["source_type"].endswith("trainedAlgorithmicMedia")
    model_id = Names(studio.db, studio.chain.chain_id).require("model", MODEL)
    assert report.license is not None and report.license.model is not None
    assert report.license.model.id == model_id
    run = report.license.model.training_run
    assert run is not None and run.failure is None and run.error is None
    assert run.signature_valid and run.weights_match and run.signer_trusted
    signed = run_of(studio.chain, studio.blobs, model_id)
    assert signed is not None
    assert run.record_cid == cid_from_digest(hashlib.sha256(signed.to_bytes()).digest())
    (ds,) = run.datasets
    dataset_id = Names(studio.db, studio.chain.chain_id).require("dataset", "lumen-past-copy")
    root, count = studio.chain.call("LineageRegistry", "fileRoot", dataset_id)
    assert (ds.id, ds.root, ds.file_count) == (dataset_id, bytes(root).hex(), count)
    assert ds.root_on_chain and ds.manifest_on_chain and ds.contributors == 1
    check = next(c for c in report.checks if c.name == "training run")
    assert check.status == "pass" and f"model #{model_id}" in check.detail
    # the asset's credential names the weights the chain registered for the model
    registered = bytes(studio.chain.call("LineageRegistry", "model", model_id)[0]).hex()
    assert report.origin["model_hash"] == registered

    _the_studio_shows_the_run(studio, model_id)
    # rerun of both steps: nothing new is registered, the verdict is the same
    models = int(studio.chain.call("LineageRegistry", "modelCount"))
    again = trained_campaign_step(lambda _s: None, studio)
    assert again is not None and again.verdict is Verdict.VERIFIED
    assert int(studio.chain.call("LineageRegistry", "modelCount")) == models


def _reverify(studio: Studio) -> VerifyReport:
    return verify_path(copy_asset(studio), verify_context(studio))


def _failed(report: VerifyReport) -> str:
    check = next(c for c in report.checks if c.name == "training run")
    assert check.status == "fail" and check.effect is Verdict.UNTRUSTED
    return check.detail


def test_a_damaged_run_record_turns_the_verdict_and_a_missing_one_warns(
    trained: VerifyReport, studio: Studio
) -> None:
    """A record this store does not hold (another organisation's run, verified from any workspace
    but the trainer's) cannot be checked here: a warning naming it, not a verdict; an altered one
    is refused."""
    model_id = Names(studio.db, studio.chain.chain_id).require("model", MODEL)
    run_hash = bytes(studio.chain.call("LineageRegistry", "trainingRun", model_id))
    path: Path = studio.blobs.path(cid_from_digest(run_hash))  # type: ignore[attr-defined]
    original = path.read_bytes()
    try:
        path.unlink()  # the chain points at a run no store here holds
        report = _reverify(studio)
        check = next(c for c in report.checks if c.name == "training run")
        assert check.status == "warn" and "UnknownTrainingRun" in check.detail
        assert report.verdict is Verdict.VERIFIED
        path.write_bytes(original.replace(b'"seed\\":0', b'"seed\\":1'))  # altered in place
        report = _reverify(studio)
        assert report.verdict is Verdict.UNTRUSTED and "BlobCorruptedError" in _failed(report)
    finally:
        path.write_bytes(original)
    assert _reverify(studio).verdict is Verdict.VERIFIED


def _as_lineage(report: VerifyReport, model_id: int, run: TrainingRunLineage | None) -> VerifyReport:
    """``report`` with its leaf's model replaced by ``model_id`` (as a hostile linker would link
    it) and the training check redone on what the chain and store say about that model."""
    assert run is not None and report.license is not None and report.license.model is not None
    other = report.model_copy(deep=True)
    other.checks = [c for c in other.checks if c.name != "training run"]
    assert other.license is not None and other.license.model is not None
    other.license.model = ModelLineage(id=model_id, trainer="0x", license="x", training_run=run)
    _training_check(other, model_id, run)
    other.decide()
    return other


def _register(client: ChainClient, weights: bytes, datasets: list[int], run: bytes) -> int:
    client.transact("LineageRegistry", "registerTrainedModel", weights, datasets, "proprietary", run)
    return int(client.call("LineageRegistry", "modelIdOf", client.address, weights))


def _record(studio: Studio, model_id: int) -> TrainingRecord:
    signed = run_of(studio.chain, studio.blobs, model_id)
    assert signed is not None
    return signed.parsed()


def test_each_broken_run_is_named_and_turns_the_verdict(
    trained: VerifyReport, studio: Studio, tmp_path: Path
) -> None:
    chain, blobs = studio.chain, studio.blobs
    anchors = studio.keys.trust_anchor_pem()
    model_id = Names(studio.db, chain.chain_id).require("model", MODEL)
    ours = _record(studio, model_id)
    run_hash = bytes(chain.call("LineageRegistry", "trainingRun", model_id))
    ds = [d.registry_id for d in ours.datasets]
    mallory = party(studio, MALLORY)

    def judged(mid: int) -> tuple[str | None, Verdict]:
        run = training_run(studio.chain_reader(), blobs, mid, anchors)
        assert run is not None
        return run.failure, _as_lineage(trained, mid, run).verdict

    # squatting: Mallory registers our weights with our signed run as his own model
    squat = _register(mallory, bytes.fromhex(ours.output_weights_hash), ds, run_hash)
    assert judged(squat) == ("RunTrainerMismatch", Verdict.UNTRUSTED)

    # Mallory's model (other weights) claims our run record
    other_weights = _register(mallory, b"\x01" * 32, ds, run_hash)
    assert judged(other_weights) == ("RunWeightsMismatch", Verdict.UNTRUSTED)

    # a run record signed by another organisation's key, registered with the model it names
    keys = KeyStore(tmp_path / "mallory-keys")
    keys.init("Mallory Labs", password="mallory-password")
    forged = ours.model_copy(update={"trainer": mallory.address, "output_weights_hash": "02" * 32})
    raw = sign_run(forged, keys.signer("mallory-password")).to_bytes()
    blobs.put(raw)
    foreign = _register(mallory, b"\x02" * 32, ds, hashlib.sha256(raw).digest())
    assert judged(foreign) == ("RunSignerUntrusted", Verdict.UNTRUSTED)

    # the record's signature does not cover its (edited) record
    edited = sign_run(forged.model_copy(update={"output_weights_hash": "03" * 32}), studio.signer)
    tampered = edited.model_copy(update={"record": edited.record.replace('"seed":0', '"seed":9')})
    raw = tampered.to_bytes()
    blobs.put(raw)
    altered = _register(mallory, b"\x03" * 32, ds, hashlib.sha256(raw).digest())
    assert judged(altered) == ("RunSignatureInvalid", Verdict.UNTRUSTED)

    # a run (signed by our own key) naming a dataset root the chain never registered
    moved = ours.datasets[0].model_copy(update={"root": "00" * 32})
    record = ours.model_copy(update={"output_weights_hash": "04" * 32, "datasets": (moved,)})
    raw = sign_run(record, studio.signer).to_bytes()
    blobs.put(raw)
    rootless = _register(chain, b"\x04" * 32, ds, hashlib.sha256(raw).digest())
    assert judged(rootless) == ("RunDatasetNotOnChain", Verdict.UNTRUSTED)

    # a run hash no store here holds: named, but not checkable here (a warning, see above)
    unknown = _register(mallory, b"\x05" * 32, ds, b"\x07" * 32)
    assert judged(unknown) == (None, Verdict.VERIFIED)
    assert "UnknownTrainingRun" in (training_run(studio.chain_reader(), blobs, unknown).error or "")

    # the honest model still passes, and offline (no store) a run is a warning, not a verdict
    assert judged(model_id) == (None, Verdict.VERIFIED)
    offline = training_run(studio.chain_reader(), None, model_id)
    assert offline is not None and offline.failure is None
    assert _as_lineage(trained, model_id, offline).verdict is Verdict.VERIFIED
