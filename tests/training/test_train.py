"""`model train` on a real anvil chain: LoRA on the tiny model over a dataset's committed files,
the signed run registered as the model's lineage, and the attacks on it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mintloom.engines.training import LoraParams
from mintloom.engines.transformers_text import weights_hash
from mintloom.errors import TrainingDataMismatch, TrainingRecordError
from mintloom.ledger.datasets import ingest_and_register
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import Names, resolve_model
from mintloom.ledger.node import NodeInfo
from mintloom.ledger.training import TrainRequest, TrainResult, run_of, train_and_register
from mintloom.provenance.ingest import IngestOptions
from mintloom.provenance.training import SIDECAR_NAME, read_signed
from mintloom.studio import Studio
from tests.training.conftest import COPY, copy_folder

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def ingest_copy(studio: Studio, root: Path, license: str = "proprietary") -> Path:
    folder = copy_folder(root)
    opt_out = frozenset({"private.txt"})
    opts = IngestOptions(license, "0x" + "00" * 20, opt_out=opt_out)
    r = ingest_and_register(studio.chain, studio.db, studio.blobs, folder, name="past-copy", options=opts)
    assert [x.path for x in r.done.excluded] == ["private.txt"]
    return folder


def request(base: Path, folder: Path, out: Path, seed: int = 7) -> TrainRequest:
    return TrainRequest("copy-model", base, (("past-copy", folder),), out, "proprietary", seed, LoraParams())


def train(studio: Studio, req: TrainRequest) -> TrainResult:
    return train_and_register(studio.chain, studio.db, studio.blobs, studio.signer, req)


def test_training_is_registered_with_its_signed_run(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path
) -> None:
    deploy_all(studio.chain)
    folder = ingest_copy(studio, tmp_path)
    r = train(studio, request(tiny_base, folder, tmp_path / "m"))
    rec = r.record
    assert r.trained and r.registered.created
    assert rec.output_weights_hash == weights_hash(tmp_path / "m") != weights_hash(tiny_base)
    assert rec.base_model_hash == weights_hash(tiny_base) and rec.seed == 7 and rec.method == "lora"
    assert rec.hyper_parameters["rank"] == 4 and {"mintloom", "peft", "torch"} <= rec.code_version.keys()
    ds = Names(studio.db, studio.chain.chain_id).require("dataset", "past-copy")
    (use,) = rec.datasets
    assert (use.registry_id, use.count, use.contributors) == (ds, len(COPY), 1)
    assert use.root == bytes(studio.chain.call("LineageRegistry", "fileRoot", ds)[0]).hex()
    # the chain binds the model to the sidecar's exact bytes, with the run's datasets as lineage
    sidecar = (tmp_path / "m" / SIDECAR_NAME).read_bytes()
    model = resolve_model(studio.chain, studio.db, "copy-model")
    assert model.trained_on == (ds,)
    assert (
        bytes(studio.chain.call("LineageRegistry", "trainingRun", model.onchain_id))
        == hashlib.sha256(sidecar).digest()
    )
    assert studio.blobs.get(r.run_cid) == sidecar
    signed = run_of(studio.chain, studio.blobs, model.onchain_id)
    assert signed is not None and signed.parsed() == rec

    # the same training again (same seed) gives the same weights: nothing new is registered
    again = train(studio, request(tiny_base, folder, tmp_path / "m2"))
    assert again.record.output_weights_hash == rec.output_weights_hash and not again.registered.created
    assert (tmp_path / "m2" / SIDECAR_NAME).read_bytes() == sidecar  # the one registered run
    assert int(studio.chain.call("LineageRegistry", "modelCount")) == 1
    # another seed is another model
    req = TrainRequest(
        "copy-model-2", tiny_base, (("past-copy", folder),), tmp_path / "m3", "proprietary", 8, LoraParams()
    )
    other = train(studio, req)
    assert other.record.output_weights_hash != rec.output_weights_hash and other.registered.created


def test_training_refuses_files_the_dataset_did_not_commit_to(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path
) -> None:
    deploy_all(studio.chain)
    folder = ingest_copy(studio, tmp_path)
    (folder / "deals.txt").write_text("shop the best deals today and poison")
    with pytest.raises(TrainingDataMismatch, match="not the file the dataset committed to"):
        train(studio, request(tiny_base, folder, tmp_path / "m"))
    (folder / "deals.txt").unlink()
    with pytest.raises(TrainingDataMismatch, match="cannot be read"):
        train(studio, request(tiny_base, folder, tmp_path / "m"))
    assert not (tmp_path / "m").exists() and int(studio.chain.call("LineageRegistry", "modelCount")) == 0


def test_an_altered_run_record_is_refused_by_name(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_base: Path
) -> None:
    deploy_all(studio.chain)
    folder = ingest_copy(studio, tmp_path)
    train(studio, request(tiny_base, folder, tmp_path / "m"))
    doc = json.loads((tmp_path / "m" / SIDECAR_NAME).read_bytes())
    record = json.loads(doc["record"])
    record["datasets"][0]["contributors"] = 1000  # claim a bigger, other dataset
    doc["record"] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    with pytest.raises(TrainingRecordError, match="altered"):
        read_signed(json.dumps(doc).encode())
    with pytest.raises(TrainingRecordError, match="not a signed training-run record"):
        read_signed(b'{"format": "x"}')
