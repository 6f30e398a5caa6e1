"""The family's UGC attester on one anvil chain, with brand, fan and copier workspaces.

The DAO names the brand's account its attester by vote. The fan remixes a brand ad in the fan's
own workspace (the credential names the fan's account as creator). Unattested, the fan's
registration is refused as NotAttested. `mintloom ugc attest` refuses, by name and sending
nothing: a child under another trust anchor, a tampered child, another parent, a child naming no
creator, a near copy, an account that is not the attester. It then attests the child for the fan.
A copier who logs the same child in a log of their own, anchors it, holds a licence and submits
first is refused (AttestedForAnother); the fan is then rewarded, and `verify` in the fan's
workspace shows the reward the family pool paid."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import pytest
from PIL import Image

from mintloom.chain_lookup import verify_context
from mintloom.errors import (
    AttestedForAnotherError,
    ChildCredentialError,
    NearCopyError,
    NoCreatorNamedError,
    NotAttestedError,
    NotAttesterError,
    ParentCredentialError,
    ParentNotInFamilyError,
    ParentNotIngredientError,
)
from mintloom.governance.attester import attest_child, check_child
from mintloom.governance.licenses import resolve_terms
from mintloom.governance.remix import compose
from mintloom.governance.ugc import register_logged_child
from mintloom.ledger.assets import token_id
from mintloom.ledger.node import dev_key
from mintloom.ledger.ugc_pools import genuine_pool
from mintloom.market.licensing import buy_license
from mintloom.provenance.credentials import DigitalSourceType, GenerationRecord, Parent
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.verify.report import UgcRewardInfo
from mintloom.workspace import Workspace
from tests.cli.runs import as_party, mintloom, party
from tests.conftest import PASSWORD
from tests.governance.test_dao import FAN, OUTSIDER, anchored, mine
from tests.governance.test_remix import fan
from tests.governance.test_ugc_cross_org import _brand_family, _in_fan_workspace
from tests.market.test_service import _sent

__all__ = ["anchored", "fan"]  # the fixtures, used by name
pytestmark = pytest.mark.xdist_group("anvil")
TERMS = "commercial-remix"


def _dao_names_the_attester(s: Studio, monkeypatch: pytest.MonkeyPatch, attester: str) -> None:
    """Proposal #2 (after the pool's #1): name ``attester``; voted, queued, executed."""
    as_party(monkeypatch, 0)
    proposed = mintloom("dao", "propose", "--attester", attester)
    assert proposed.exit_code == 0 and f"name {attester} the UGC attester" in _flat(proposed.output), (
        proposed.output
    )
    mine(s, 2)
    assert mintloom("dao", "vote", "2", "for").exit_code == 0
    mine(s, 25)
    assert mintloom("dao", "queue", "2").exit_code == 0
    mine(s, 1, seconds=61)
    assert mintloom("dao", "execute", "2").exit_code == 0
    assert s.chain.call("UGCRewards", "parameters")[6] == attester


def _flat(text: str) -> str:
    return " ".join(text.split())


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _fan_signed(fan_ws: Workspace, pixels: bytes, parent: bytes, creator: str | None) -> bytes:
    """``pixels`` signed by the fan's keys, naming ``parent`` as parentOf (not logged)."""
    record = GenerationRecord(
        engine="test", engine_version="1", campaign="remix", locale="und", action="c2pa.edited",
        segment_commitment=hashlib.sha256(b"s").hexdigest(),
        source_type=DigitalSourceType.COMPOSITE_WITH_TRAINED, creator_account=creator,
    )  # fmt: skip
    s = Studio(fan_ws, password=PASSWORD)
    try:
        signed = s.asset_signer.sign(
            pixels, "image/png", record, title="x.png", parent=Parent(parent, "image/png", "ad")
        )
    finally:
        s.close()
    return signed.data


def _fan_sees_reward(fan_ws: Workspace, leaf: int, cid: str) -> UgcRewardInfo | None:
    """The UGC reward ``verify`` reads for the fan's child, in the fan's workspace (read only)."""
    s = Studio(fan_ws, password=PASSWORD)
    try:
        lookup = verify_context(s).chain
        assert lookup is not None
        [info] = lookup.licenses([(leaf, cid)], detail=True)
    finally:
        s.close()
    assert info is not None and not info.registered  # no token: the child lives in the fan's log
    return info.ugc_reward


def _copier_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: bytes, manifest_hash: str, parent: bytes
) -> Studio:
    """A copier's own workspace, contracts and log, holding the fan's child (same leaf), anchored."""
    monkeypatch.setenv("MINTLOOM_CHAIN__PRIVATE_KEY", dev_key(OUTSIDER))
    ws = Workspace.init(tmp_path / "copier")
    s = Studio(ws, password=PASSWORD)
    s.ensure_keys()
    s.contracts()
    cid, parent_cid = str(cid_for(child)), str(cid_for(parent))
    s.log.append_batch([(cid, bytes.fromhex(manifest_hash))], external_parents={cid: parent_cid})
    s.anchor()
    return s


def _manifest_on(pixels: bytes, signed: bytes) -> bytes:
    """``pixels`` (a PNG) carrying ``signed``'s own manifest store (its caBX chunk) after IHDR."""
    start = signed.index(b"caBX") - 4
    cabx = signed[start : start + 12 + int.from_bytes(signed[start : start + 4], "big")]
    ihdr_end = 8 + 12 + int.from_bytes(pixels[8:12], "big")
    return pixels[:ihdr_end] + cabx + pixels[ihdr_end:]


def _forged_parents_refused(
    brand: Studio, fan_ws: Workspace, tmp_path: Path, *, parent: bytes, other: Path, fan: str, pool: str
) -> None:
    """A copier pastes the genuine parent's manifest onto other pixels (same label, another CID):
    attested, the chain would bind the fan's child to that CID and the fan's own submission with
    the real parent would revert forever. A parent outside the pool's family is refused too."""
    img = Image.open(io.BytesIO(parent)).convert("RGB")
    img.putpixel((0, 0), tuple(255 - v for v in img.getpixel((0, 0))))
    forged = tmp_path / "forged-parent.png"
    forged.write_bytes(_manifest_on(_png(img), parent))
    assert cid_for(forged.read_bytes()) != cid_for(parent)
    child = tmp_path / "child.png"
    both = tmp_path / "fan-and-brand-anchors.pem"
    both.write_text((tmp_path / "fan-root.pem").read_text() + brand.keys.trust_anchor_pem())
    hit = mintloom(
        "ugc", "attest", str(child), "--parent", str(forged), "--trust", str(tmp_path / "fan-root.pem")
    )
    assert isinstance(hit.exception, ParentCredentialError), hit.output
    assert "dataHash.mismatch" in str(hit.exception), hit.exception  # the pasted manifest's hash
    # the parent's signer must chain to the attester's roots (here only the fan's root is given)
    with pytest.raises(ParentCredentialError, match="does not chain to the attester"):
        check_child(child.read_bytes(), parent, both.read_text(), (tmp_path / "fan-root.pem").read_text())
    # another of the brand's signed assets, never registered in the family: a valid child of it
    outside = other.read_bytes()
    remix = _fan_signed(fan_ws, compose(outside, "poster"), outside, fan)
    assert check_child(remix, outside, both.read_text()).creator == fan  # every off-chain check passes
    with pytest.raises(ParentNotInFamilyError, match="no registered asset of the family"):
        attest_child(brand.chain, pool, remix, outside, both.read_text())


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _non_images_refused(tmp_path: Path, child: Path, parent: Path, fan_root: Path) -> None:
    """A parent that is no PNG/JPEG/WebP (a GIF of the parent's pixels) or a pixel bomb (a PNG
    header claiming 100000x100000 pixels) is the parent's fault: ParentCredentialError (before
    3354760 both were a ChildCredentialError). A child that is no image is a ChildCredentialError."""
    gif = tmp_path / "parent.gif"
    Image.open(parent).convert("RGB").save(gif, format="GIF")
    header = (100_000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"")))
    for bad, why in (
        (gif, "the parent is a GIF image"),
        (bomb, "could be decompression bomb"),
    ):
        hit = mintloom("ugc", "attest", str(child), "--parent", str(bad), "--trust", str(fan_root))
        assert isinstance(hit.exception, ParentCredentialError), hit.output
        assert why in str(hit.exception), hit.exception
    text = tmp_path / "child.txt"
    text.write_text("not a picture")
    hit = mintloom("ugc", "attest", str(text), "--parent", str(parent), "--trust", str(fan_root))
    assert isinstance(hit.exception, ChildCredentialError), hit.output
    assert "the child is not an image mintloom can read" in str(hit.exception), hit.exception


def test_the_attester_binds_a_child_to_its_creator(
    anchored: Studio, fan: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand, brand_root = anchored, str(anchored.workspace.root)
    parent, pool = _brand_family(brand, tmp_path, monkeypatch)
    _dao_names_the_attester(brand, monkeypatch, brand.chain.address)
    fan_chain = party(brand, FAN)
    fan_root = tmp_path / "fan-root.pem"
    fan_root.write_text(KeyStore(fan.keys_dir).trust_anchor_pem())

    _in_fan_workspace(monkeypatch, fan)
    child = tmp_path / "child.png"
    brand_root_pem = tmp_path / "brand-root.pem"
    brand_root_pem.write_text(brand.keys.trust_anchor_pem())
    made = (
        "remix",
        str(parent),
        "--template",
        "frame",
        "--out",
        str(child),
        "--trust-parent",
        str(brand_root_pem),
    )
    assert mintloom(*made).exit_code == 0
    cid = str(cid_for(child.read_bytes()))
    buy_license(fan_chain, str(cid_for(parent.read_bytes())), TERMS)
    register = ("ugc", "register", str(child), "--parent", str(parent), "--licence", TERMS, "--family", pool)
    before = _sent(fan_chain)
    unattested = mintloom(*register)
    assert isinstance(unattested.exception, NotAttestedError), unattested.output  # not NoLicenceError
    assert _sent(fan_chain) == before

    # the attester's refusals, each by name, nothing sent
    monkeypatch.setenv("MINTLOOM_WORKSPACE", brand_root)
    as_party(monkeypatch, 0)
    attest = ("ugc", "attest", str(child), "--parent", str(parent))
    sent = (_sent(brand.chain), _sent(party(brand, OUTSIDER)))
    stranger = mintloom(*attest, "--trust", str(brand_root_pem))  # the fan's signer is not under it
    assert isinstance(stranger.exception, ChildCredentialError), stranger.output
    data = bytearray(child.read_bytes())
    data[-40] ^= 0xFF  # a pixel byte of the last IDAT chunk
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(bytes(data))
    hit = mintloom("ugc", "attest", str(tampered), "--parent", str(parent), "--trust", str(fan_root))
    assert isinstance(hit.exception, ChildCredentialError), hit.output
    other = tmp_path / "other-parent.png"  # another signed asset of the brand's, not the child's parent
    hero = str(cid_for(parent.read_bytes()))
    other.write_bytes(
        brand.blobs.get(next(a.cid for a in Catalog(brand.db).assets("c1", kind="image") if a.cid != hero))
    )
    wrong = mintloom("ugc", "attest", str(child), "--parent", str(other), "--trust", str(fan_root))
    assert isinstance(wrong.exception, ParentNotIngredientError), wrong.output
    parent_bytes = parent.read_bytes()
    pixels = _png(Image.open(io.BytesIO(parent_bytes)).convert("RGB"))
    with pytest.raises(NearCopyError):
        check_child(
            _fan_signed(fan, pixels, parent_bytes, fan_chain.address),
            parent_bytes,
            fan_root.read_text(),
            brand_root_pem.read_text(),
        )
    nobody = _fan_signed(fan, compose(parent_bytes, "poster"), parent_bytes, None)
    with pytest.raises(NoCreatorNamedError):
        check_child(nobody, parent_bytes, fan_root.read_text(), brand_root_pem.read_text())
    _forged_parents_refused(
        brand, fan, tmp_path, parent=parent_bytes, other=other, fan=fan_chain.address, pool=pool
    )
    _non_images_refused(tmp_path, child, parent, fan_root)
    as_party(monkeypatch, OUTSIDER)
    impostor = mintloom(*attest, "--trust", str(fan_root))
    assert isinstance(impostor.exception, NotAttesterError), impostor.output
    assert (_sent(brand.chain), _sent(party(brand, OUTSIDER))) == sent

    as_party(monkeypatch, 0)
    attested = mintloom(*attest, "--trust", str(fan_root))
    assert attested.exit_code == 0 and f"for creator {fan_chain.address}" in _flat(attested.output), (
        attested.output
    )
    assert tuple(brand.chain.call("UGCRewards", "attestation", token_id(cid))) == (
        token_id(cid), token_id(str(cid_for(parent_bytes))), fan_chain.address,
    )  # fmt: skip
    again = mintloom(*attest, "--trust", str(fan_root))
    assert again.exit_code == 0 and "already attested" in _flat(again.output), again.output

    # a copier logs the same child in their own log, anchors it, holds a licence, submits first
    fan_db = open_workspace_database(fan.database_url())
    try:
        receipt = TransparencyLog(fan_db).receipt(cid)
    finally:
        fan_db.dispose()
    assert receipt is not None
    copier = _copier_logs(tmp_path, monkeypatch, child.read_bytes(), receipt.manifest_hash, parent_bytes)
    try:
        buy_license(party(brand, OUTSIDER), str(cid_for(parent_bytes)), TERMS)  # at the brand's market
        with pytest.raises(AttestedForAnotherError, match="(?i)AttestedForAnother.*" + fan_chain.address):
            register_logged_child(
                copier.chain,
                pool,
                copier.log,
                child.read_bytes(),
                parent_bytes,
                terms_id=resolve_terms(TERMS),
            )
    finally:
        copier.close()
    assert not brand.chain.call("UGCRewards", "isRewarded", token_id(cid))

    # a contract that only emits a reward for the fan's child, from the fan's log: not shown
    assert receipt.anchor is not None
    outsider = party(brand, OUTSIDER)
    fake = outsider.deploy("FakeUGCPool", brand.chain.address_of("LicenseMarket"))
    grant = (
        token_id(cid),
        receipt.anchor.contract,
        token_id(str(cid_for(parent_bytes))),
        outsider.address,
        10**24,
    )
    outsider.transact_at(fake, outsider.artifact("FakeUGCPool").abi, "grant", *grant)
    assert not genuine_pool(brand.chain, fake)
    _in_fan_workspace(monkeypatch, fan)
    assert _fan_sees_reward(fan, receipt.leaf_index, cid) is None  # the fake's "reward" is not shown

    rewarded = mintloom(*register)
    assert rewarded.exit_code == 0 and "0.1 ETH granted" in " ".join(rewarded.output.split()), rewarded.output
    shown = _fan_sees_reward(fan, receipt.leaf_index, cid)
    assert shown is not None and (shown.creator, shown.amount, shown.pool) == (
        fan_chain.address,
        str(10**17),
        pool,
    )
    assert shown.parent_token == hex(token_id(str(cid_for(parent_bytes))))
    both = tmp_path / "fan-and-brand.pem"  # the fan trusts its own root and the brand's
    both.write_text(fan_root.read_text() + brand_root_pem.read_text())
    verified = _flat(mintloom("verify", str(child), "--trust", str(both)).output)
    assert f"UGC reward {10**17} wei to {fan_chain.address}" in verified, verified
    assert "paid by family pool" in verified and pool[:20] in verified, verified
    assert genuine_pool(brand.chain, pool)
    assert not genuine_pool(brand.chain, brand.chain.address_of("CreativeAssets"))
    assert brand.log.index_of(cid) is None  # the brand's log never saw the child
