"""Dataset roots on a real anvil chain: registration bound to the curator, idempotent, squatting
(by manifest and by name) refused, proofs checked against the chain, `verify --dataset-proof`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mintloom.cli.main import app
from mintloom.errors import DatasetInputError, DatasetProofError, RegistrantMismatch
from mintloom.ledger.datasets import (
    check_on_chain,
    ingest_and_register,
    onchain_root,
    prove_file,
    verify_file_proof,
)
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import NodeInfo
from mintloom.provenance.dataset import DatasetTree, proof_from_json
from mintloom.provenance.ingest import IngestOptions, datasheet_template, ingest, manifest_json
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from tests.governance.test_governance import STRANGER, party

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def brand_folder(root: Path) -> Path:
    folder = root / "brand"
    folder.mkdir()
    for i in range(6):
        (folder / f"photo{i}.jpg").write_bytes(b"photo %d" % i)
    (folder / "copy.jpg").write_bytes(b"photo 0")
    return folder


def options(tmp_path: Path) -> IngestOptions:
    optout = tmp_path / "optout.txt"
    optout.write_text("photo5.jpg\n")
    from mintloom.provenance.ingest import load_opt_out

    return IngestOptions("CC-BY-4.0", "0x" + "00" * 20, opt_out=load_opt_out(optout))


def test_ingest_registers_root_count_and_curator_and_proofs_check_on_chain(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    folder = brand_folder(tmp_path)
    r = ingest_and_register(chain, studio.db, studio.blobs, folder, name="brand", options=options(tmp_path))
    assert r.registered.created and r.ingestion.count == 5
    assert {x.path: x.reason for x in r.done.excluded} == {
        "photo0.jpg": "duplicate",
        "photo5.jpg": "opt-out-list",
    }
    root, count, curator = onchain_root(chain, r.registered.onchain_id)
    assert (root, count, curator) == (r.ingestion.root, 5, chain.address)
    assert studio.blobs.has(r.ingestion.manifest_cid) and studio.blobs.has(r.ingestion.datasheet_cid)
    again = ingest_and_register(
        chain, studio.db, studio.blobs, folder, name="brand", options=options(tmp_path)
    )
    assert not again.registered.created and again.registered.onchain_id == r.registered.onchain_id

    proof = prove_file(chain, studio.db, studio.blobs, folder / "photo3.jpg", "brand")
    assert proof.entry.cid == cid_for(b"photo 3") and proof.registry.curator == chain.address
    verify_file_proof(chain, proof_from_json(proof.to_json()), folder / "photo3.jpg")
    with pytest.raises(DatasetProofError, match="the proof is for"):
        verify_file_proof(chain, proof, folder / "photo4.jpg")
    with pytest.raises(DatasetProofError, match="not in dataset"):
        prove_file(chain, studio.db, studio.blobs, folder / "photo5.jpg", "brand")  # opted out

    (folder / "photo6.jpg").write_bytes(b"added later")
    with pytest.raises(DatasetInputError, match="already names manifest"):
        ingest_and_register(chain, studio.db, studio.blobs, folder, name="brand", options=options(tmp_path))


def test_a_forged_proof_is_refused_by_the_chain(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    """Mallory builds a self-consistent tree holding her file and claims it is our dataset."""
    chain = studio.chain
    deploy_all(chain)
    folder = brand_folder(tmp_path)
    ingest_and_register(chain, studio.db, studio.blobs, folder, name="brand", options=options(tmp_path))
    good = json.loads(prove_file(chain, studio.db, studio.blobs, folder / "photo1.jpg", "brand").to_json())
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "mine.jpg").write_bytes(b"mallory's")
    (evil / "other.jpg").write_bytes(b"filler")
    forged_tree = DatasetTree(ingest(evil, IngestOptions("CC0-1.0", "0x" + "00" * 20)).entries)
    forged = forged_tree.proof(
        cid_for(b"mallory's"), dataset="brand", registry=proof_from_json(json.dumps(good)).registry
    )
    with pytest.raises(DatasetProofError, match="registered root"):
        check_on_chain(chain, forged)
    good["path"][0] = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(DatasetProofError, match="does not lead"):
        check_on_chain(chain, proof_from_json(json.dumps(good)))
    good = json.loads(prove_file(chain, studio.db, studio.blobs, folder / "photo1.jpg", "brand").to_json())
    good["registry"]["curator"] = "0x" + "66" * 20
    with pytest.raises(DatasetProofError, match="curated by"):
        check_on_chain(chain, proof_from_json(json.dumps(good)))


def test_squatting_the_manifest_or_the_name_fails(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    chain = studio.chain
    deploy_all(chain)
    folder = brand_folder(tmp_path)
    opts = options(tmp_path)
    # Mallory front-runs our exact manifest with a root of her own
    done = ingest(folder, IngestOptions(opts.license, chain.address, opt_out=opts.opt_out))
    sheet = cid_for(datasheet_template("brand", opts.license, done).encode())
    manifest = manifest_json("brand", opts.license, chain.address, sheet, done)
    mallory = party(studio, shared_anvil, STRANGER)
    mallory.transact("LineageRegistry", "registerDatasetFiles", hashlib.sha256(manifest).digest(),
                     hashlib.sha256(manifest).digest(), "CC0-1.0", True, b"\x66" * 32, 1)  # fmt: skip
    squatted = int(mallory.call("LineageRegistry", "datasetCount"))
    ours = ingest_and_register(chain, studio.db, studio.blobs, folder, name="brand", options=opts)
    assert ours.registered.created and ours.registered.onchain_id != squatted
    proof = prove_file(chain, studio.db, studio.blobs, folder / "photo2.jpg", "brand")
    assert proof.registry.dataset_id == ours.registered.onchain_id
    # Mallory holding a name in this workspace: our ingest under it is refused by name
    ingest_and_register(mallory, studio.db, studio.blobs, folder, name="hers", options=opts)
    with pytest.raises(RegistrantMismatch, match="held by"):
        ingest_and_register(chain, studio.db, studio.blobs, folder, name="hers", options=opts)


def test_cli_prove_then_verify_dataset_proof(studio: Studio, shared_anvil: NodeInfo, tmp_path: Path) -> None:
    chain = studio.chain
    deploy_all(chain)
    folder = brand_folder(tmp_path)
    ingest_and_register(chain, studio.db, studio.blobs, folder, name="brand", options=options(tmp_path))
    runner = CliRunner()
    out = tmp_path / "proof.json"
    proved = runner.invoke(app, ["dataset", "prove", str(folder / "photo2.jpg"), "brand", "--out", str(out)])
    assert proved.exit_code == 0, proved.output
    deployments = studio.workspace.chain_dir / "deployments.json"
    args = ["verify", str(folder / "photo2.jpg"), "--dataset-proof", str(out), "--rpc", shared_anvil.rpc_url,
            "--contracts", str(deployments)]  # fmt: skip
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0 and "INCLUDED" in ok.output, ok.output
    args[1] = str(folder / "photo3.jpg")
    bad = runner.invoke(app, args)
    assert isinstance(bad.exception, DatasetProofError) and bad.exception.exit_code == 5
    assert "the proof is for" in str(bad.exception)


def test_cli_ingest_distribute_and_claim_as_contributor(
    studio: Studio, shared_anvil: NodeInfo, tmp_path: Path
) -> None:
    deploy_all(studio.chain)
    folder = brand_folder(tmp_path)
    runner = CliRunner()
    optout = tmp_path / "optout.txt"
    optout.write_text("photo5.jpg\n")
    args = [
        "dataset",
        "ingest",
        str(folder),
        "--name",
        "brand",
        "--license",
        "CC-BY-4.0",
        "--opt-out",
        str(optout),
    ]
    ingested = runner.invoke(app, args)
    assert ingested.exit_code == 0, ingested.output
    assert (
        "5 files" in ingested.output and "opt-out-list" in ingested.output and "duplicate" in ingested.output
    )
    dist = tmp_path / "epoch1.json"
    posted = runner.invoke(app, ["royalties", "distribute", "brand", "--epoch", "1", "--amount-wei", "1000",
                                 "--out", str(dist)])  # fmt: skip
    assert posted.exit_code == 0, posted.output
    assert "1000 wei to 1 contributor(s), 0 wei dust" in posted.output
    claimed = runner.invoke(app, ["royalties", "claim", "--as-contributor", str(dist)])
    assert claimed.exit_code == 0 and "claimed 1000 wei" in claimed.output, claimed.output
    again = runner.invoke(app, ["royalties", "claim", "--as-contributor", str(dist)])
    assert again.exception is not None and "already claimed" in str(again.exception)
