"""A campaign whose copy is written by a model engine: a tiny GPT-2 built by the test."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import sample_spec
from mintloom.campaign.spec import load_spec
from mintloom.engines.transformers_text import weights_hash
from mintloom.errors import SpecError
from mintloom.provenance.content_credentials import read_credentials
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD
from tests.engines.tiny_model import build_tiny_gpt2

from .conftest import write_campaign

MODEL_COPY = """copy:
  engine: transformers-text
  model: {model_path: tiny-gpt2, max_new_tokens: 6}
  templates:
    note: "summer sale now"
"""


def spec_text() -> str:
    base = sample_spec(locales=("en-US",), formats=("square",), copy=False, audio=False)
    return base.replace("audio:\n", MODEL_COPY + "audio:\n")


def test_model_written_copy_is_recorded_as_trained_media(studio: Studio, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    folder = tmp_path / "c"
    path = write_campaign(folder, spec_text())
    build_tiny_gpt2(folder / "tiny-gpt2")
    summary = CampaignRunner(studio.run_parts(), load_spec(path)).run()
    assert summary.generated == {"image": 2, "copy": 2}
    # both segments got the same text: one asset (content-addressed), both jobs point at it
    assert len({cid for cid in Catalog(studio.db).done_jobs("tiny").values()}) == 3
    # each job's exported text carries the manifest that was logged for it, so both verify
    texts = sorted((studio.workspace.out_dir / "tiny").rglob("*.txt"))
    assert len(texts) == 2
    for txt in texts:
        receipt = studio.log.receipt(cid_for(txt.read_bytes()))
        sidecar = txt.with_name(txt.name + ".c2pa").read_bytes()
        assert receipt is not None and receipt.manifest_hash == hashlib.sha256(sidecar).hexdigest()

    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    anchors = studio.keys.trust_anchor_pem()
    copies = Catalog(studio.db).assets("tiny", kind="copy")
    for row in copies:
        assert row.sidecar_cid is not None
        cred = read_credentials(blobs.get(row.cid), row.media_type, trust_anchors_pem=anchors,
                                sidecar=blobs.get(row.sidecar_cid))  # fmt: skip
        assert cred.trusted and cred.generation is not None
        assert cred.generation.source_type.endswith("trainedAlgorithmicMedia")
        assert cred.generation.model_hash == weights_hash(folder / "tiny-gpt2")
        assert row.engine == "transformers-text"

    # the same spec and model in another workspace write the same texts
    other = Studio(Workspace.init(tmp_path / "other"), password=PASSWORD)
    other.ensure_keys()
    try:
        CampaignRunner(other.run_parts(), load_spec(path)).run()
        again = [r.content_cid for r in Catalog(other.db).assets("tiny", kind="copy")]
        assert again == [r.content_cid for r in copies] and len(again) == 1
    finally:
        other.close()


def test_a_model_that_writes_nothing_fails_the_job_by_name(studio: Studio, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from mintloom.errors import ExecutionError

    folder = tmp_path / "c"
    path = write_campaign(folder, spec_text().replace("summer sale now", "{{ name }} {{ city }}"))
    build_tiny_gpt2(folder / "tiny-gpt2")
    with pytest.raises(ExecutionError, match=r"note.*wrote no text for this prompt"):
        CampaignRunner(studio.run_parts(), load_spec(path)).run()
    assert Catalog(studio.db).assets("tiny", kind="copy") == []  # the images before it are kept


def test_api_keys_stay_out_of_specs(tmp_path: Path) -> None:
    bad = spec_text().replace("{model_path: tiny-gpt2, max_new_tokens: 6}", "{model: gpt, api_key: sk-123}")
    with pytest.raises(SpecError, match="api_key does not belong in a spec"):
        load_spec(write_campaign(tmp_path, bad))
