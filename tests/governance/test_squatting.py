"""Dataset and model squatting on a real anvil chain: another account registering our datasheet or
weights first, or holding our ingredient's name, gets neither our licence gate nor our royalties."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from mintloom.campaign.spec import load_spec
from mintloom.errors import LicenseViolation, RegistrantMismatch, UntrustedIngredient
from mintloom.governance.gate import check_lineage
from mintloom.governance.royalties import resolve_split
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import ChainName, dataset_info, pin, register_dataset, register_model
from mintloom.ledger.node import NodeInfo
from mintloom.store.cid import cid_for, digest_of
from mintloom.studio import Studio
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD
from tests.governance.test_governance import CURATOR, GOVERNED, STRANGER, TRAINER, address, party

pytestmark = pytest.mark.xdist_group("anvil")

DATA_ONLY = (
    GOVERNED.replace('  model: "layout-model"\n', "")
    .replace("    - {role: model, bps: 1000}\n", "")
    .replace("{role: brand, bps: 6000}", "{role: brand, bps: 7000}")
)


def squat(studio: Studio, shared_anvil: NodeInfo, sheet: Path) -> int:
    """Mallory registers our datasheet first, with permissive terms and himself as curator."""
    mallory = party(studio, shared_anvil, STRANGER)
    data = sheet.read_bytes()
    mallory.transact("LineageRegistry", "registerDataset", hashlib.sha256(data).digest(),
                     digest_of(cid_for(data)), "CC0-1.0", True)  # fmt: skip
    return int(mallory.call("LineageRegistry", "datasetCount"))


def test_squatted_datasheet_is_not_adopted_and_pays_nothing_to_the_squatter(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    sheet = tmp_path / "sheet.md"
    sheet.write_text("# brand photos\nshot in-house; no AI training, non-commercial\n")
    squatted = squat(studio, shared_anvil, sheet)
    ours = register_dataset(
        chain, studio.db, "brand-photos", sheet, license="CC-BY-NC-4.0", ai_training=False
    )
    assert ours.created and ours.onchain_id != squatted  # our own entry, not Mallory's
    info = dataset_info(chain, ours.onchain_id)
    assert info.curator == chain.address and not info.ai_training_allowed
    again = register_dataset(
        chain, studio.db, "brand-photos", sheet, license="CC-BY-NC-4.0", ai_training=False
    )
    assert not again.created and again.onchain_id == ours.onchain_id  # idempotent for us

    # the gate uses our terms (non-commercial), which Mallory's CC0 entry would have hidden
    spec = load_spec(write_campaign(tmp_path / "c", DATA_ONLY)).spec
    with pytest.raises(LicenseViolation, match="non-commercial"):
        check_lineage(chain, studio.db, spec)
    # the data share goes to us, never to Mallory
    accounts = {s.account for s in resolve_split(chain, studio.db, spec)}
    assert address(STRANGER) not in accounts and chain.address in accounts


def test_gate_and_split_refuse_an_entry_registered_by_the_wrong_party(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    sheet, weights = tmp_path / "sheet.md", tmp_path / "w.bin"
    sheet.write_text("# brand photos\nlicensed for AI training\n")
    weights.write_bytes(b"w" * 64)
    curated = register_dataset(party(studio, shared_anvil, CURATOR), studio.db, "brand-photos", sheet,
                               license="CC-BY-4.0", ai_training=True)  # fmt: skip
    register_model(party(studio, shared_anvil, TRAINER), studio.db, "layout-model", weights,
                   trained_on=["brand-photos"], license="Apache-2.0")  # fmt: skip
    spec = load_spec(write_campaign(tmp_path / "c", GOVERNED)).spec
    check_lineage(chain, studio.db, spec)  # the genuine entries pass

    squatted = squat(studio, shared_anvil, sheet)  # what the old code silently adopted under our name
    with studio.db.session() as s:
        s.execute(update(ChainName).where(ChainName.name == "brand-photos").values(onchain_id=squatted))
    with pytest.raises(UntrustedIngredient, match=address(STRANGER)):
        check_lineage(chain, studio.db, spec)
    with pytest.raises(UntrustedIngredient, match="not by the expected"):
        resolve_split(chain, studio.db, spec)

    # a third-party dataset is used only through the entry of the curator pinned for it
    pinned = pin(chain, studio.db, "dataset", "brand-photos", content=sheet, registrant=address(CURATOR))
    assert pinned.onchain_id == curated.onchain_id
    check_lineage(chain, studio.db, spec)


def cli(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINTLOOM_KEY_PASSWORD": PASSWORD, "MINTLOOM_WORKSPACE": str(workspace),
           "COLUMNS": "200"}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip


def test_register_refuses_a_name_another_account_holds(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    sheet = tmp_path / "sheet.md"
    sheet.write_text("# brand photos\n")
    register_dataset(party(studio, shared_anvil, STRANGER), studio.db, "brand-photos", sheet,
                     license="CC0-1.0", ai_training=True)  # fmt: skip
    with pytest.raises(RegistrantMismatch) as err:
        register_dataset(chain, studio.db, "brand-photos", sheet, license="CC-BY-4.0", ai_training=False)
    assert err.value.holder == address(STRANGER) and address(STRANGER) in err.value.message

    args = ("dataset", "register", "brand-photos", "--datasheet", str(sheet), "--license", "CC-BY-4.0")
    run = cli(studio.workspace.root, *args)
    assert run.returncode == RegistrantMismatch.exit_code, run.stdout + run.stderr
    assert address(STRANGER) in run.stdout + run.stderr and "already registered" not in run.stdout
    assert cli(studio.workspace.root, "dataset", "register", "our-photos", "--datasheet", str(sheet),
               "--license", "CC-BY-4.0").returncode == 0  # fmt: skip
