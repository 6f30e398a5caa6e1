"""What the chain says a trained model was made from, as verify and the licence gate read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import ReaderLookup, training_run
from mintloom.errors import LicenseViolation, LineageMismatch
from mintloom.governance.gate import check_lineage
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import NodeInfo
from mintloom.store.cid import cid_from_digest
from mintloom.studio import Studio
from tests.campaign.conftest import SPEC, write_campaign
from tests.training.conftest import COPY
from tests.training.test_train import ingest_copy, request, train

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]

COMMERCIAL = (
    SPEC
    + """
lineage:
  model: "copy-model"
governance:
  terms: {image: commercial-remix, copy: commercial-use, audio: commercial-use}
"""
)


def test_verify_walks_model_run_dataset_root_and_contributors(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path
) -> None:
    deploy_all(studio.chain)
    folder = ingest_copy(studio, tmp_path)
    r = train(studio, request(tiny_base, folder, tmp_path / "m"))
    model_id = Names(studio.db, studio.chain.chain_id).require("model", "copy-model")
    reader = studio.chain_reader()
    model = ReaderLookup(reader, studio.blobs)._model(reader.addresses(), model_id)
    run = model.training_run
    assert run is not None and run.error is None
    assert run.record_cid == r.run_cid and run.signature_valid and run.weights_match
    assert (run.method, run.seed) == ("lora", 7)
    (ds,) = run.datasets
    assert (ds.file_count, ds.contributors, ds.root_on_chain, ds.manifest_on_chain) == (
        len(COPY),
        1,
        True,
        True,
    )
    # offline (no blob store) the chain's run hash is still shown, the record is not
    offline = training_run(reader, None, model_id)
    assert offline is not None and offline.run_hash == run.run_hash and offline.error is not None

    # a blob store whose run record was swapped for an altered one: refused by name, shown as such
    path = studio.blobs.path(r.run_cid)  # type: ignore[attr-defined]
    doc = json.loads(path.read_bytes())
    doc["record"] = doc["record"].replace('"seed":7', '"seed":8')
    path.write_bytes(json.dumps(doc).encode())
    broken = training_run(reader, studio.blobs, model_id)
    assert broken is not None and broken.error is not None and not broken.signature_valid
    assert cid_from_digest(bytes.fromhex(broken.run_hash)) == r.run_cid


def test_gate_refuses_a_model_trained_on_non_commercial_data_for_commercial_outputs(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path
) -> None:
    deploy_all(studio.chain)
    folder = ingest_copy(studio, tmp_path, license="CC-BY-NC-4.0")
    train(studio, request(tiny_base, folder, tmp_path / "m"))
    spec = load_spec(write_campaign(tmp_path / "c", COMMERCIAL)).spec
    # the campaign names only the model: its training run's dataset decides
    with pytest.raises(
        LicenseViolation, match=r"model 'copy-model' was trained on dataset #1, licensed 'CC-BY-NC-4.0'"
    ):
        check_lineage(studio.chain, studio.db, spec)


USES_MODEL = (
    SPEC
    + """
lineage:
  model: "copy-model"
copy:
  engine: transformers-text
  model: {model_path: "MODEL", template: "summer"}
"""
)


def test_gate_refuses_a_campaign_naming_a_trained_model_but_running_other_weights(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path
) -> None:
    deploy_all(studio.chain)
    folder = ingest_copy(studio, tmp_path)
    train(studio, request(tiny_base, folder, tmp_path / "m"))
    swapped = load_spec(write_campaign(tmp_path / "c", USES_MODEL.replace("MODEL", str(tiny_base))))
    with pytest.raises(LineageMismatch, match=r"names model 'copy-model'.*runs other weights"):
        check_lineage(studio.chain, studio.db, swapped.spec, swapped.path.parent)
    honest = load_spec(write_campaign(tmp_path / "d", USES_MODEL.replace("MODEL", str(tmp_path / "m"))))
    check_lineage(studio.chain, studio.db, honest.spec, honest.path.parent)  # the trained weights pass
