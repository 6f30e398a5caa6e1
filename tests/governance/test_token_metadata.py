"""Wallet- and marketplace-readable tokens, end to end on a real anvil.

A campaign runs, is anchored and published; its assets are registered; then, as a wallet would:
``tokenURI`` resolves (from the CAR export, the blob store) to canonical JSON whose ``image`` /
``animation_url`` is the asset's CID and whose fields match the catalog and the signed manifest,
and ``LicenseMarket.uri(id)`` with ``{id}`` substituted resolves through the published UnixFS
folder (decoded by @ipld/dag-pb, built identically by ipfs-unixfs-importer) to the terms JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mintloom.campaign.spec import load_spec
from mintloom.cli.main import app
from mintloom.governance.licence_metadata import licence_files
from mintloom.governance.licenses import FLAVOURS, terms_of
from mintloom.governance.publish import publish_campaign
from mintloom.ledger.anchoring import latest_on_chain
from mintloom.ledger.assets import register_asset, token_id
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.journal import Journal
from mintloom.ledger.metadata import license_id, pinned_metadata
from mintloom.ledger.node import NodeInfo
from mintloom.pipeline import Pipeline, PipelineOptions
from mintloom.provenance.content_credentials import read_credentials
from mintloom.provenance.log import Receipt
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.car import read_car
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.store.published import canonical_json
from mintloom.studio import Studio
from tests.campaign.conftest import SPEC, write_campaign
from tests.conftest import PASSWORD
from tests.store.ipfs_reference import reference

pytestmark = pytest.mark.xdist_group("anvil")

GOVERNED = (
    SPEC + "governance:\n  terms: {image: commercial-remix, copy: commercial-use, audio: commercial-use}\n"
)
LINKS = Path(__file__).with_name("dagpb_links.mjs")
FOLDER_REF = Path(__file__).parents[1] / "store" / "unixfs_folder_reference.mjs"


def _node(*args: str) -> str:
    node = shutil.which("node")
    assert node is not None, "node is required for the IPFS reference"
    proc = subprocess.run([node, *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _attrs(meta: dict[str, Any]) -> dict[str, str]:
    return {a["trait_type"]: a["value"] for a in meta["attributes"]}


@pytest.fixture
def published(studio: Studio, shared_anvil: NodeInfo, tmp_path: Path) -> tuple[Studio, dict[str, AssetRow]]:
    """The sample campaign run, anchored and published; one asset of each kind registered."""
    deploy_all(studio.chain, studio.settings.governance)
    loaded = load_spec(write_campaign(tmp_path / "c", GOVERNED))
    Pipeline(studio).run(loaded, PipelineOptions())
    catalog = Catalog(studio.db)
    picked = {kind: catalog.assets("tiny", kind=kind)[0] for kind in ("image", "copy", "audio")}
    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    for row in picked.values():
        assert not register_asset(studio.chain, studio.log, catalog, row.cid, blobs=blobs).already
    return studio, picked


def _car_blocks(tmp_path: Path) -> tuple[list[str], dict[str, bytes]]:
    car = tmp_path / "tiny.car"
    result = CliRunner().invoke(app, ["export", "tiny", "--car", str(car)])
    assert result.exit_code == 0, result.output
    roots, blocks = read_car(car)
    return [str(r) for r in roots], {str(c): b for c, b in blocks}


def test_token_uri_resolves_from_the_car_to_metadata_matching_catalog_and_manifest(
    published: tuple[Studio, dict[str, AssetRow]], tmp_path: Path
) -> None:
    studio, picked = published
    chain = studio.chain
    roots, blocks = _car_blocks(tmp_path)
    for kind, row in picked.items():
        uri = str(chain.call("CreativeAssets", "tokenURI", token_id(row.cid)))
        meta_cid = uri.removeprefix("ipfs://")
        assert uri.startswith("ipfs://") and meta_cid != row.cid and meta_cid in roots
        data = blocks[meta_cid]  # checked against its CID by read_car
        meta = json.loads(data)
        assert data == canonical_json(meta) and cid_for(data) == meta_cid  # canonical, reproducible
        media = {"image": "image", "audio": "animation_url"}.get(kind)
        if media is not None:
            assert meta[media] == f"ipfs://{row.cid}"
        else:  # text: no image to show, the file is named in properties
            assert "image" not in meta and "animation_url" not in meta
        assert meta["properties"]["asset"]["cid"] == row.cid and row.cid in blocks
        attrs = _attrs(meta)
        assert attrs["campaign"] == row.campaign == "tiny" and attrs["kind"] == row.kind
        assert attrs.get("locale") == row.locale and attrs.get("format") == row.format
        assert attrs["engine"] == f"{row.engine} {row.engine_version}"
        blobs = LocalBlobStore(studio.workspace.blobs_dir)
        sidecar = blobs.get(row.sidecar_cid) if row.sidecar_cid else None
        gen = read_credentials(blobs.get(row.cid), row.media_type, sidecar=sidecar)
        assert gen.generation is not None
        assert attrs["digital source type"] == str(gen.generation.source_type).rsplit("/", 1)[-1]
        assert meta["properties"]["asset"]["digital_source_type"] == str(gen.generation.source_type)
        assert attrs.get("model") == gen.generation.model_id
        # the receipt link resolves to the asset's anchored receipt, which proves its leaf
        prov = meta["properties"]["provenance"]
        receipt = Receipt.model_validate_json(blocks[prov["receipt"].removeprefix("ipfs://")])
        assert receipt.cid == row.cid and receipt.verify() and receipt.leaf_index == row.leaf_index
        assert prov["log_leaf_index"] == row.leaf_index and prov["leaf_hash"] == receipt.leaf_hash().hex()
        assert prov["anchor"]["chain_id"] == chain.chain_id
        assert prov["anchor"]["provenance_log"].lower() == chain.address_of("ProvenanceLog").lower()
        token = meta["properties"]["token"]
        assert token == {"chain_id": chain.chain_id, "contract": chain.address_of("CreativeAssets"),
                         "token_id": str(token_id(row.cid))}  # fmt: skip
        terms = {"image": "commercial-remix"}.get(kind, "commercial-use")
        (licence,) = meta["properties"]["licences"]
        assert licence["terms_id"] == FLAVOURS[terms] and licence["name"] == terms
        assert licence["license_token_id"] == f"{license_id(token_id(row.cid), FLAVOURS[terms]):064x}"
        assert int(licence["minting_fee"]) == terms_of(chain, FLAVOURS[terms]).minting_fee


def test_metadata_cid_is_the_ipfs_cid(published: tuple[Studio, dict[str, AssetRow]], tmp_path: Path) -> None:
    """The metadata JSON's CID is what `ipfs add --cid-version 1` (the JS importer) gives its bytes."""
    studio, picked = published
    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    paths, cids = [], []
    for i, row in enumerate(picked.values()):
        uri = str(studio.chain.call("CreativeAssets", "tokenURI", token_id(row.cid)))
        cids.append(uri.removeprefix("ipfs://"))
        paths.append(tmp_path / f"m{i}.json")
        paths[-1].write_bytes(blobs.get(cids[-1]))
    assert [r["root"] for r in reference(paths)] == cids


def test_uri_id_substituted_resolves_to_the_terms_json(
    published: tuple[Studio, dict[str, AssetRow]], tmp_path: Path
) -> None:
    studio, picked = published
    chain = studio.chain
    _, blocks = _car_blocks(tmp_path)
    row = picked["image"]
    lid = int(chain.call("LicenseMarket", "licenseIdOf", token_id(row.cid), FLAVOURS["commercial-remix"]))
    template = str(chain.call("LicenseMarket", "uri", lid))
    assert template.startswith("ipfs://bafy") and template.endswith("/{id}.json")
    path = template.replace("{id}", f"{lid:064x}").removeprefix("ipfs://")  # EIP-1155: 64 hex, no 0x
    folder, name = path.split("/")
    links = json.loads(_node(str(LINKS), blocks[folder].hex()))  # decoded by @ipld/dag-pb
    (entry,) = [x for x in links if x["name"] == name]
    terms = json.loads(blocks[entry["cid"]])
    assert terms["properties"]["terms_id"] == FLAVOURS["commercial-remix"]
    assert terms["properties"]["asset"] == f"ipfs://{row.cid}" and terms["image"] == f"ipfs://{row.cid}"
    assert terms["properties"]["terms"]["derivatives_allowed"] is True
    assert terms["properties"]["terms"]["rev_share_bps"] == 1000
    assert terms["name"].startswith("Licence commercial-remix")
    # the folder is the one ipfs-unixfs-importer builds from the same files
    files = dict(licence_files(chain, studio.db, latest_on_chain(chain).size))
    local = tmp_path / "licences"
    local.mkdir()
    for fname, data in files.items():
        (local / fname).write_bytes(data)
    assert json.loads(_node(str(FOLDER_REF), str(local)))["root"] == folder
    assert len(links) == len(files) == len(Catalog(studio.db).assets("tiny"))


def test_republishing_and_reregistering_send_nothing(published: tuple[Studio, dict[str, AssetRow]]) -> None:
    """A rerun names the same metadata: the pinned CID is reused, the folder is not set again."""
    studio, picked = published
    chain = studio.chain
    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    before = int(chain.w3.eth.block_number)
    row = picked["image"]
    pinned = pinned_metadata(studio.db, chain.chain_id, row.cid)
    assert pinned is not None
    assert register_asset(chain, studio.log, Catalog(studio.db), row.cid, blobs=blobs).already
    loaded = load_spec(write_campaign(Path(blobs.root).parent / "again", GOVERNED))
    again = publish_campaign(chain, studio.db, loaded.spec, blobs=blobs)
    assert again.transactions == [] and int(chain.w3.eth.block_number) == before
    assert str(chain.call("CreativeAssets", "tokenURI", token_id(row.cid))) == f"ipfs://{pinned.metadata_cid}"


def test_crash_after_pinning_reregisters_the_same_metadata_once(
    published: tuple[Studio, dict[str, AssetRow]],
) -> None:
    """`mintloom register` SIGKILLed after the metadata is pinned, before sending; meanwhile the
    asset's leaf gets another licence. The rerun sends one registration naming the pinned JSON
    (the same write the crashed run would have sent), not a second document."""
    studio, _ = published
    chain = studio.chain
    row = next(a for a in Catalog(studio.db).assets("tiny", kind="image") if a.format == "leaderboard")
    assert not chain.call("CreativeAssets", "isRegistered", token_id(row.cid))
    env = {**os.environ, "MINTLOOM_KEY_PASSWORD": PASSWORD, "MINTLOOM_CRASH_AT": "register-pinned"}
    crashed = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "register", row.cid], env=env,
                             capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    pinned = pinned_metadata(studio.db, chain.chain_id, row.cid)
    assert pinned is not None and not chain.call("CreativeAssets", "isRegistered", token_id(row.cid))
    size = latest_on_chain(chain).size
    (rng,) = [r for r in chain.call("LicenseMarket", "rangesOverlapping", row.leaf_index, row.leaf_index + 1)]
    chain.transact(
        "LicenseMarket", "attachTerms", size, int(rng[0]), int(rng[1]), FLAVOURS["commercial-no-ai"]
    )

    env.pop("MINTLOOM_CRASH_AT")
    rerun = subprocess.run([sys.executable, "-m", "mintloom.cli.main", "register", row.cid], env=env,
                           capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    uri = str(chain.call("CreativeAssets", "tokenURI", token_id(row.cid)))
    assert uri == f"ipfs://{pinned.metadata_cid}"
    meta = json.loads(LocalBlobStore(studio.workspace.blobs_dir).get(pinned.metadata_cid))
    assert [x["name"] for x in meta["properties"]["licences"]] == ["commercial-remix"]  # as pinned
    sent = [e for e in Journal(studio.db).entries(chain.chain_id) if e.kind == f"register:{row.cid}"]
    assert len(sent) == 1
