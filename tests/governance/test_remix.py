"""`mintloom remix` in a fan's own workspace: the child is signed by the fan's organisation, names
the brand's asset as its parentOf ingredient (the brand's credential inside), is logged in the
fan's log and anchored on the fan's contracts; an unsigned parent, a near-copy and an unknown
template are refused by name and leave nothing behind."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mintloom.errors import GovernanceError, NearCopyError, UnsignedParentError
from mintloom.governance import remix as remix_module
from mintloom.governance.remix import compose, remix
from mintloom.ledger.node import dev_key
from mintloom.provenance.content_credentials import read_credentials
from mintloom.provenance.credentials import GenerationRecord
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.cli.runs import exit_code, mintloom
from tests.conftest import PASSWORD
from tests.governance.test_dao import FAN, _hero, anchored

__all__ = ["anchored"]  # the fixture, used by name
pytestmark = pytest.mark.xdist_group("anvil")


@pytest.fixture
def fan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The fan's own workspace, organisation, keys and chain account (same chain as the brand)."""
    ws = Workspace.init(tmp_path / "fan")
    monkeypatch.setenv("MINTLOOM_PROVENANCE__ORGANISATION", "Fan Club")
    monkeypatch.setenv("MINTLOOM_KEY_PASSWORD", PASSWORD)
    s = Studio(ws, password=PASSWORD)
    s.ensure_keys()
    s.close()
    return ws


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_fan_remix_names_the_brand_parent(
    anchored: Studio, fan: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand = anchored
    hero = _hero(brand)
    parent = tmp_path / "ad.png"
    parent.write_bytes(brand.blobs.get(hero))
    monkeypatch.setenv("MINTLOOM_WORKSPACE", str(fan.root))
    monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", dev_key(FAN))
    child = tmp_path / "child.png"

    made = mintloom("remix", str(parent), "--template", "frame", "--out", str(child))
    assert made.exit_code == 0, made.output
    roots = brand.keys.trust_bundle_pem() + KeyStore(fan.keys_dir).trust_bundle_pem()
    report = read_credentials(child.read_bytes(), "image/png", trust_anchors_pem=roots)
    assert report.signature_valid and "Fan Club" in (report.signer or ""), report
    [ingredient] = report.ingredients
    assert (ingredient.relationship, ingredient.title) == ("parentOf", "ad.png")
    # the brand's own manifest is inside, intact; the fan's signing tool did not trust the brand's root
    assert ingredient.active_manifest == read_credentials(parent.read_bytes(), "image/png").label
    assert ingredient.failures == ["signingCredential.untrusted"]
    brand_org = brand.settings.provenance.organisation
    assert brand_org in (ingredient.signer or "") and "Fan Club" not in (ingredient.signer or "")
    shown = mintloom("verify", str(child))  # the parent chain across organisations: fan → brand
    assert f"signed by {brand_org}" in " ".join(shown.output.split()), shown.output
    fan_db = open_workspace_database(fan.database_url())
    try:
        fan_log = TransparencyLog(fan_db)
        cid = str(cid_for(child.read_bytes()))
        assert fan_log.index_of(cid) is not None and fan_log.index_of(hero) is None
        assert brand.log.index_of(cid) is None  # the brand's log never saw the fan's child
        receipt = fan_log.receipt(cid)
        assert receipt is not None and receipt.anchor is not None, "the child was not anchored"
    finally:
        fan_db.dispose()

    unsigned = tmp_path / "plain.png"
    unsigned.write_bytes(_png(Image.open(parent).convert("RGB")))
    refused = mintloom("remix", str(unsigned), "--template", "frame", "--out", str(tmp_path / "x.png"))
    assert isinstance(refused.exception, UnsignedParentError), refused.output
    assert (
        exit_code(
            monkeypatch, "remix", str(parent), "--template", "glitter", "--out", str(tmp_path / "y.png")
        )
        == 7
    )
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_a_remix_that_is_the_parent_again_is_refused(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compositor that hands the parent back (a hostile template: a re-signed copy) is refused
    before anything is signed or logged; an unknown template is refused by name."""
    noise = np.random.default_rng(3).random((64, 64, 3)) * 255
    plain = _png(Image.fromarray(noise.astype("uint8")).resize((256, 256)))
    with pytest.raises(GovernanceError, match="unknown remix template"):
        compose(plain, "glitter")
    parent = studio.asset_signer.sign(plain, "image/png", _record(), title="parent.png").data
    monkeypatch.setitem(remix_module._COMPOSE, "same", lambda img, colour: img)
    size = studio.log.size
    with pytest.raises(NearCopyError, match="parent picture again"):
        remix(parent, "same", signer=studio.asset_signer, log=studio.log, title="copy.png")
    assert studio.log.size == size  # nothing logged
    real = remix(parent, "split", signer=studio.asset_signer, log=studio.log, title="remix.png")
    assert studio.log.index_of(real.cid) == size


def _record() -> GenerationRecord:
    return GenerationRecord(
        engine="test",
        engine_version="1",
        campaign="c",
        segment_commitment=hashlib.sha256(b"s").hexdigest(),
        locale="en-US",
    )
