"""`mintloom model train --method lora` on a diffusion pipeline, on a real anvil chain: LoRA on
the tiny UNet's attention over an ingested image dataset, the same signed run and on-chain
lineage as a text model, and the text-to-image engine generating with the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mintloom.campaign.sample import logo_path
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import training_run
from mintloom.engines.base import BrandStyle, GenerationRequest
from mintloom.engines.diffusion import DiffusersEngine, pipeline_hash
from mintloom.engines.params import CopyTemplate, DiffusionParams
from mintloom.engines.training import LoraParams
from mintloom.errors import EngineError, LineageMismatch
from mintloom.governance.gate import check_lineage
from mintloom.ledger.datasets import ingest_and_register
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import NodeInfo
from mintloom.ledger.training import TrainRequest, run_of, train_and_register
from mintloom.provenance.ingest import IngestOptions
from mintloom.provenance.training import SIDECAR_NAME, read_signed
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.campaign.test_hero import hero_spec
from tests.training.conftest import copy_folder
from tests.training.test_crash import mintloom

pytest.importorskip("diffusers")
pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def photos(folder: Path) -> Path:
    """Five small brand photos (procedural, the same bytes every time)."""
    folder.mkdir(parents=True)
    for i in range(5):
        Image.new("RGB", (24, 24), (240 - 30 * i, 120 + 20 * i, 40 * i)).save(folder / f"warm-light-{i}.png")
    return folder


def ingest(studio: Studio, folder: Path, name: str) -> None:
    opts = IngestOptions("CC-BY-4.0", studio.chain.address)
    ingest_and_register(studio.chain, studio.db, studio.blobs, folder, name=name, options=opts)


def _unet(folder: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return dict(load_file(folder / "unet" / "diffusion_pytorch_model.safetensors"))


def test_model_train_fine_tunes_the_diffusion_unet_and_registers_its_run(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_pipeline: Path
) -> None:
    deploy_all(studio.chain)
    folder = photos(tmp_path / "photos")
    ingest(studio, folder, "brand-photos")
    out = tmp_path / "hero-lora"
    args = ("model", "train", "hero-lora", "--base", str(tiny_pipeline), "--dataset", "brand-photos",
            "--data", str(folder), "--out", str(out), "--method", "lora", "--epochs", "1",
            "--seed", "5")  # fmt: skip
    done = mintloom(*args)
    assert done.returncode == 0, done.stderr
    assert "trained" in done.stdout and "registered as #" in done.stdout

    # the signed run names the base pipeline, the image dataset and the fused pipeline it produced
    record = read_signed((out / SIDECAR_NAME).read_bytes()).parsed()
    assert record.output_weights_hash == pipeline_hash(out) != pipeline_hash(tiny_pipeline)
    assert record.base_model_hash == pipeline_hash(tiny_pipeline) and record.method == "lora"
    assert {"diffusers", "peft", "torch"} <= record.code_version.keys() and record.seed == 5
    assert [d.name for d in record.datasets] == ["brand-photos"] and record.datasets[0].count == 5
    model_id = Names(studio.db, studio.chain.chain_id).require("model", "hero-lora")
    assert (
        bytes(studio.chain.call("LineageRegistry", "model", model_id)[0]).hex() == record.output_weights_hash
    )
    assert run_of(studio.chain, studio.blobs, model_id) is not None
    run = training_run(studio.chain_reader(), studio.blobs, model_id, studio.keys.trust_anchor_pem())
    assert run is not None and run.failure is None and run.signer_trusted and run.datasets[0].root_on_chain

    # LoRA was fused into the UNet's attention projections only; no adapter weights are left
    base, tuned = _unet(tiny_pipeline), _unet(out)
    changed = {k for k in base if not bool((base[k] == tuned[k]).all())}  # type: ignore[attr-defined]
    assert changed and all(
        k.rsplit(".", 1)[0].endswith(("to_q", "to_k", "to_v", "to_out.0")) for k in changed
    )
    assert base.keys() == tuned.keys()

    # the text-to-image engine loads it and records the hash the chain registered
    params = DiffusionParams(prompt=CopyTemplate(source="warm light", name="hero"), model_path=str(out),
                             steps=1, width=64, height=64)  # fmt: skip
    brand = BrandStyle(palette=("#0b3d91", "#ffb300"), logo_png=logo_path().read_bytes(), tone="warm")
    art = DiffusersEngine().generate(GenerationRequest(kind="image", seed=1, locale="en-US", brand=brand,
                                                       params=params))  # fmt: skip
    assert (
        art.model_hash == record.output_weights_hash and art.digital_source_type == "trainedAlgorithmicMedia"
    )

    # a rerun resumes from the signed run next to the same weights: nothing registered twice
    models = int(studio.chain.call("LineageRegistry", "modelCount"))
    again = mintloom(*args)
    assert again.returncode == 0 and "resumed" in again.stdout and "already registered" in again.stdout
    assert int(studio.chain.call("LineageRegistry", "modelCount")) == models

    # the licence gate: a campaign naming the trained model must run its pipeline as its hero
    hostile = load_spec(write_campaign(tmp_path / "c", hero_spec(tiny_pipeline) + NAMES_IT))
    with pytest.raises(LineageMismatch, match=r"names model 'hero-lora'.*runs other weights \(hero "):
        check_lineage(studio.chain, studio.db, hostile.spec, hostile.path.parent)
    honest = load_spec(write_campaign(tmp_path / "d", hero_spec(out) + NAMES_IT))
    check_lineage(studio.chain, studio.db, honest.spec, honest.path.parent)


NAMES_IT = 'lineage:\n  model: "hero-lora"\n'


def test_a_diffusion_base_refuses_a_dataset_that_is_not_images(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path, tiny_pipeline: Path
) -> None:
    deploy_all(studio.chain)
    folder = copy_folder(tmp_path)
    ingest(studio, folder, "past-copy")
    req = TrainRequest("hero-lora", tiny_pipeline, (("past-copy", folder),), tmp_path / "out", "proprietary",
                       0, LoraParams(epochs=1))  # fmt: skip
    with pytest.raises(EngineError, match="training image cannot be decoded"):
        train_and_register(studio.chain, studio.db, studio.blobs, studio.signer, req)
    assert not (tmp_path / "out").exists()
    assert int(studio.chain.call("LineageRegistry", "modelCount")) == 0
