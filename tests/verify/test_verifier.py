"""verify_bytes / verify_path / verify_many against the assets of a real signed campaign.

Every verdict is produced from real files: the tiny campaign (12 PNGs, 4 texts with sidecars, one
WAV) is generated, signed, logged and checkpointed once per module, and the files are then
verified, damaged, stripped, re-encoded or re-signed by a foreign organisation.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.chain_lookup import verify_context
from mintloom.ledger.node import NodeInfo
from mintloom.provenance import text_wrapper
from mintloom.provenance.content_credentials import C2paAssetSigner, SignedAsset, embeds
from mintloom.provenance.credentials import GenerationRecord
from mintloom.provenance.keys import KeyStore, LocalSigner
from mintloom.provenance.log import Receipt
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog
from mintloom.store.cid import cid_for
from mintloom.studio import Studio
from mintloom.verify.report import Verdict, VerifyReport
from mintloom.verify.verifier import (
    VerifyContext,
    media_files,
    report_json,
    sniff,
    verify_bytes,
    verify_many,
    verify_path,
)
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD, sample_studio
from tests.provenance.certs import NOW, issue, resign


@dataclass
class Campaign:
    studio: Studio
    ctx: VerifyContext
    catalog: Catalog
    blobs: LocalBlobStore
    out: Path

    def row(self, kind: str, fmt: str | None = None, locale: str = "en-US") -> AssetRow:
        return next(
            r
            for r in self.catalog.assets("tiny", kind=kind)
            if (fmt is None or r.format == fmt) and (kind == "audio" or r.locale == locale)
        )

    def data(self, row: AssetRow) -> bytes:
        return self.blobs.get(row.cid)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    studio = sample_studio(tmp_path_factory.mktemp("verify"))
    ctx = verify_context(studio, offline=True)
    yield Campaign(studio, ctx, Catalog(studio.db), LocalBlobStore(studio.workspace.blobs_dir),
                   studio.workspace.out_dir / "tiny")  # fmt: skip
    studio.close()


def statuses(report: VerifyReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, total length incl. length/type/CRC) of every chunk."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append((data[pos + 4 : pos + 8], pos, 12 + length))
        pos += 12 + length
    return out


def chunk(data: bytes, ctype: bytes) -> tuple[int, int]:
    _, pos, size = next(c for c in png_chunks(data) if c[0] == ctype)
    return pos, size


def png_bytes(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


# --- VERIFIED --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "fmt"), [("image", "square"), ("image", "leaderboard"), ("audio", None)])
def test_signed_png_and_wav_are_verified_with_origin_and_receipt(
    campaign: Campaign, kind: str, fmt: str | None
) -> None:
    row = campaign.row(kind, fmt)
    report = verify_bytes(campaign.data(row), row.path, campaign.ctx)
    assert report.verdict is Verdict.VERIFIED and report.verdict.exit_code == 0
    assert report.binding == "hard" and report.cid == row.cid
    checks = statuses(report)
    for name in ("hash binding", "signature", "trust", "inclusion proof", "checkpoint"):
        assert checks[name] == "pass", report.checks
    assert checks["anchor"] == "skip"  # offline
    assert report.origin["campaign"] == "tiny" and "seed" not in report.origin
    assert (
        report.origin["seed_commitment"] is not None and str(row.seed) not in report.origin["seed_commitment"]
    )
    assert report.origin["format"] == row.format
    assert report.receipt is not None and report.receipt["leaf_index"] == row.leaf_index
    assert report.receipt["tree_size"] == 17 and report.receipt["anchor"] is None
    if fmt == "leaderboard":  # a variant: resized from its master, the ingredient checks out
        assert checks["ingredients"] == "pass"
        assert [h["action"] for h in report.history if "action" in h] == ["c2pa.opened", "c2pa.resized"]
        assert any(h.get("relationship") == "parentOf" and h["valid"] for h in report.history)
        steps = [(h["relation"], h["asset"]) for h in report.history if "derived_from" in h]
        if row.locale == "en-US":
            assert steps == [("resized", f"en-US/{row.segment}/square")]
        else:  # resized from its locale's master, which was translated from the first locale's
            assert steps == [("resized", f"{row.locale}/{row.segment}/square"),
                             ("translated", f"en-US/{row.segment}/square")]  # fmt: skip
    json.loads(report_json(report))


def test_text_verifies_from_the_text_alone_and_stripped_with_its_sidecar(campaign: Campaign) -> None:
    row = campaign.row("copy")
    path = campaign.out / row.path
    sidecar = path.with_name(path.name + ".c2pa").read_bytes()
    shipped = path.read_bytes()
    report = verify_bytes(shipped, "note.txt", campaign.ctx)  # the embedded credential alone
    assert report.verdict is Verdict.VERIFIED and report.binding == "hard"
    assert report.media_type == "text/plain" and statuses(report)["inclusion proof"] == "pass"
    assert verify_path(path, campaign.ctx).verdict is Verdict.VERIFIED

    found = text_wrapper.find(shipped)
    assert found is not None
    stripped = text_wrapper.strip(shipped, found)  # copied out of a page: the wrapper is gone
    bare = verify_bytes(stripped, "note.txt", campaign.ctx)
    assert bare.verdict is Verdict.UNKNOWN and bare.binding == "none"
    again = verify_bytes(stripped, "note.txt", campaign.ctx, sidecar=sidecar)
    assert again.verdict is Verdict.VERIFIED and again.cid == row.cid, again.checks
    assert statuses(again)["credential"] == "info"
    # an edited text matches neither its embedded credential nor its sidecar
    text = stripped.decode()
    forged = (text[:-1] + ("0" if text[-1] != "0" else "1")).encode() + shipped[found.start :]  # same length
    assert forged != shipped
    assert verify_bytes(forged, "note.txt", campaign.ctx).verdict is Verdict.TAMPERED
    edited = verify_bytes(stripped + b"!", "note.txt", campaign.ctx, sidecar=sidecar)
    assert edited.verdict is Verdict.TAMPERED and edited.cid != row.cid


def test_whole_campaign_folder_verifies_in_parallel_in_order(campaign: Campaign) -> None:
    files = media_files(campaign.out)
    assert len(files) == 17 and not any(f.suffix == ".c2pa" for f in files)
    seen: list[str] = []
    reports = list(verify_many(files, campaign.ctx, workers=4, on_done=lambda r: seen.append(r.file)))
    assert [r.file for r in reports] == [str(f) for f in files] == seen
    assert {r.verdict for r in reports} == {Verdict.VERIFIED}


@pytest.mark.chain
@pytest.mark.xdist_group("anvil")
def test_online_verification_passes_the_anchor_check(
    workspace: Workspace, anvil: NodeInfo, tmp_path: Path
) -> None:
    studio = Studio(workspace, password=PASSWORD)
    studio.ensure_keys()
    try:
        spec = load_spec(write_campaign(tmp_path / "campaign"))
        CampaignRunner(studio.run_parts(), spec, batch_size=5).run()
        row = Catalog(studio.db).assets("tiny", kind="image")[0]
        data = LocalBlobStore(workspace.blobs_dir).get(row.cid)

        before = verify_bytes(data, row.path, verify_context(studio))
        assert before.verdict is Verdict.VERIFIED and statuses(before)["anchor"] == "skip"

        studio.contracts()  # deploying is its own step: anchoring never deploys
        anchored = studio.anchor()
        assert anchored.tx_hash is not None and not anchored.already_anchored
        ctx = verify_context(studio)
        assert ctx.chain is not None and ctx.chain_error is None
        report = verify_bytes(data, row.path, ctx)
        assert report.verdict is Verdict.VERIFIED, report.checks
        anchor = next(c for c in report.checks if c.name == "anchor")
        assert anchor.status == "pass" and anchored.tx_hash in anchor.detail
        assert report.receipt is not None and report.receipt["anchor"]["tx_hash"] == anchored.tx_hash
        # a stripped copy reaches the same anchored proof through its fingerprint
        stripped = png_bytes(Image.open(io.BytesIO(data)))
        soft = verify_bytes(stripped, "copy.png", ctx)
        assert soft.verdict is Verdict.VERIFIED and soft.binding == "fingerprint"
        assert statuses(soft)["anchor"] == "pass"
        # online too, a checkpoint re-signed by a forger with the genuine root appended is refused
        genuine = studio.log.receipt(row.cid)
        assert genuine is not None and ctx.trust_anchors_pem is not None
        mallory = issue(
            "Test Org mintloom signer", None, ca=False, issuer_name="Test Org Content Credentials Root CA"
        )
        chain_pem = mallory.pem() + ctx.trust_anchors_pem.encode()
        forged = genuine.model_copy(update={"checkpoint": resign(genuine.checkpoint, mallory.key, chain_pem)})
        refused = verify_bytes(data, row.path, ctx, receipt=forged)
        assert refused.verdict is Verdict.UNTRUSTED and statuses(refused)["checkpoint"] == "fail"
    finally:
        studio.close()


# --- matched by fingerprint ------------------------------------------------------------------------
def _stripped(img: Image.Image) -> bytes:
    return png_bytes(img)


def _jpeg80(img: Image.Image) -> bytes:
    return png_bytes(img.convert("RGB"), "JPEG", quality=80)


def _half(img: Image.Image) -> bytes:
    return png_bytes(img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS))


def _crop3(img: Image.Image) -> bytes:
    dx, dy = round(img.width * 0.03), round(img.height * 0.03)
    return png_bytes(img.crop((dx, dy, img.width - dx, img.height - dy)))


@pytest.mark.parametrize("transform", [_stripped, _jpeg80, _half, _crop3], ids=lambda f: f.__name__[1:])
@pytest.mark.parametrize("fmt", ["square", "leaderboard"])
def test_stripped_or_reencoded_copy_is_matched_by_fingerprint(
    campaign: Campaign, transform: Callable[[Image.Image], bytes], fmt: str
) -> None:
    row = campaign.row("image", fmt)
    copy = transform(Image.open(io.BytesIO(campaign.data(row))))
    assert b"caBX" not in copy
    report = verify_bytes(copy, "copy", campaign.ctx)
    assert report.verdict is Verdict.VERIFIED, report.checks
    assert report.binding == "fingerprint" and report.matched_cid == row.cid
    assert report.cid != row.cid and report.fingerprint_distance is not None
    checks = statuses(report)
    assert checks["fingerprint"] == "pass" and checks["trust"] == "pass"
    assert checks["inclusion proof"] == "pass"  # the original's receipt, its manifest hash matching
    assert report.origin["format"] == fmt and report.receipt is not None
    assert report.receipt["leaf_index"] == row.leaf_index


# --- TAMPERED --------------------------------------------------------------------------------------
def test_flipped_pixel_byte_is_tampered(campaign: Campaign) -> None:
    data = bytearray(campaign.data(campaign.row("image", "square")))
    pos, size = chunk(bytes(data), b"IDAT")
    data[pos + size // 2] ^= 0x01
    report = verify_bytes(bytes(data), "square.png", campaign.ctx)
    assert report.verdict is Verdict.TAMPERED and report.verdict.exit_code == 20
    assert statuses(report)["hash binding"] == "fail"
    assert report.origin["campaign"] == "tiny"  # still says what it claims to be


def test_flipped_sample_in_wav_is_tampered(campaign: Campaign) -> None:
    data = bytearray(campaign.data(campaign.row("audio")))
    data[len(data) // 2] ^= 0x10
    report = verify_bytes(bytes(data), "sound-logo.wav", campaign.ctx)
    assert report.verdict is Verdict.TAMPERED


def test_valid_manifest_pasted_onto_another_image_is_tampered(campaign: Campaign) -> None:
    donor = campaign.data(campaign.row("image", "square"))
    pos, size = chunk(donor, b"caBX")
    manifest_chunk = donor[pos : pos + size]
    # a different image: the ar-EG master with its own manifest removed, then the donor's pasted in
    target = campaign.data(campaign.row("image", "square", "ar-EG"))
    tpos, tsize = chunk(target, b"caBX")
    bare = target[:tpos] + target[tpos + tsize :]
    ihdr_end = 8 + 25
    pasted = bare[:ihdr_end] + manifest_chunk + bare[ihdr_end:]
    assert [c[0] for c in png_chunks(pasted)][:2] == [b"IHDR", b"caBX"]
    report = verify_bytes(pasted, "pasted.png", campaign.ctx)
    assert report.verdict is Verdict.TAMPERED
    assert statuses(report)["hash binding"] == "fail"

    # also onto a foreign image that was never signed
    foreign = png_bytes(Image.new("RGB", (300, 200), (200, 30, 60)))
    pasted2 = foreign[:ihdr_end] + manifest_chunk + foreign[ihdr_end:]
    assert verify_bytes(pasted2, "x.png", campaign.ctx).verdict is Verdict.TAMPERED


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.2])
def test_truncated_png_is_tampered(campaign: Campaign, keep: float) -> None:
    data = campaign.data(campaign.row("image", "square"))
    report = verify_bytes(data[: int(len(data) * keep)], "square.png", campaign.ctx)
    assert report.verdict is Verdict.TAMPERED, report.checks
    assert "damaged or truncated" in report.checks[0].detail


def test_recompressed_idat_is_tampered(campaign: Campaign) -> None:
    """Same pixels, different bytes: the hard binding is over bytes, so this is a modification."""
    data = campaign.data(campaign.row("image", "square"))
    idats = [c for c in png_chunks(data) if c[0] == b"IDAT"]
    raw = zlib.decompress(b"".join(data[p + 8 : p + s - 4] for _, p, s in idats))
    body = zlib.compress(raw, 1)
    new_idat = len(body).to_bytes(4, "big") + b"IDAT" + body + zlib.crc32(b"IDAT" + body).to_bytes(4, "big")
    first, last = idats[0][1], idats[-1][1] + idats[-1][2]
    rebuilt = data[:first] + new_idat + data[last:]
    assert Image.open(io.BytesIO(rebuilt)).tobytes() == Image.open(io.BytesIO(data)).tobytes()
    assert verify_bytes(rebuilt, "square.png", campaign.ctx).verdict is Verdict.TAMPERED


# --- UNTRUSTED -------------------------------------------------------------------------------------
def test_asset_signed_by_a_foreign_organisation_is_untrusted(campaign: Campaign, keystore: KeyStore) -> None:
    foreign = C2paAssetSigner(keystore.signer(PASSWORD))  # "Test Org", not this workspace's root
    record = GenerationRecord(engine="elsewhere", engine_version="1", seed=3, campaign="other",
                              segment_commitment="ab" * 32, locale="en-US")  # fmt: skip
    img = Image.fromarray(np.random.default_rng(3).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    signed = foreign.sign(png_bytes(img), "image/png", record, title="foreign.png").data
    report = verify_bytes(signed, "foreign.png", campaign.ctx)
    assert report.verdict is Verdict.UNTRUSTED and report.verdict.exit_code == 21
    checks = statuses(report)
    assert checks["hash binding"] == "pass" and checks["signature"] == "pass" and checks["trust"] == "fail"
    assert "foreign organisation" in next(c.detail for c in report.checks if c.name == "trust")
    assert report.binding == "none" and report.origin["campaign"] == "other"

    # trusting that organisation's root instead makes the same file verified (no receipt here)
    theirs = VerifyContext(trust_anchors_pem=keystore.trust_anchor_pem())
    ok = verify_bytes(signed, "foreign.png", theirs)
    assert ok.verdict is Verdict.VERIFIED and statuses(ok)["log receipt"] == "skip"


def test_without_trust_anchors_a_signed_file_is_untrusted_and_says_why(campaign: Campaign) -> None:
    row = campaign.row("image", "square")
    report = verify_bytes(campaign.data(row), "square.png", VerifyContext())
    assert report.verdict is Verdict.UNTRUSTED
    trust = next(c for c in report.checks if c.name == "trust")
    assert trust.status == "fail" and "--trust" in trust.detail
    assert report.origin["campaign"] == "tiny"  # the credential itself is still read


def test_receipt_for_another_asset_is_untrusted(campaign: Campaign, tmp_path: Path) -> None:
    square, other = campaign.row("image", "square"), campaign.row("image", "leaderboard")
    wrong = campaign.studio.log.receipt(other.cid)
    assert wrong is not None
    path = tmp_path / "square.png"
    path.write_bytes(campaign.data(square))
    rfile = tmp_path / "wrong.receipt.json"
    rfile.write_text(wrong.model_dump_json())
    report = verify_path(path, campaign.ctx, receipt_file=rfile)
    assert report.verdict is Verdict.UNTRUSTED
    check = next(c for c in report.checks if c.name == "log receipt")
    assert check.status == "fail" and other.cid in check.detail

    # a receipt whose proof was altered does not lead to the checkpoint root
    right = campaign.studio.log.receipt(square.cid)
    assert right is not None and right.inclusion_proof
    forged = right.model_copy(update={"inclusion_proof": ["00" * 32, *right.inclusion_proof[1:]]})
    bad = verify_bytes(campaign.data(square), "square.png", campaign.ctx, receipt=forged)
    assert bad.verdict is Verdict.UNTRUSTED and statuses(bad)["inclusion proof"] == "fail"

    # an unreadable receipt file is reported, the credential is still checked
    rfile.write_text("{not json")
    broken = verify_path(path, campaign.ctx, receipt_file=rfile)
    assert broken.verdict is Verdict.UNTRUSTED and statuses(broken)["trust"] == "pass"


def test_checkpoint_resigned_by_a_forger_with_the_genuine_root_appended_is_untrusted(
    campaign: Campaign,
) -> None:
    row = campaign.row("image", "square")
    genuine = campaign.studio.log.receipt(row.cid)
    assert genuine is not None and campaign.ctx.trust_anchors_pem is not None
    root_pem = campaign.ctx.trust_anchors_pem.encode()
    mallory = issue(
        "Test Org mintloom signer", None, ca=False, issuer_name="Test Org Content Credentials Root CA"
    )
    forged = genuine.model_copy(
        update={"checkpoint": resign(genuine.checkpoint, mallory.key, mallory.pem() + root_pem)}
    )
    report = verify_bytes(campaign.data(row), "square.png", campaign.ctx, receipt=forged)
    assert report.verdict is Verdict.UNTRUSTED
    check = next(c for c in report.checks if c.name == "checkpoint")
    assert check.status == "fail" and "(untrusted)" in check.detail
    ok = verify_bytes(campaign.data(row), "square.png", campaign.ctx, receipt=genuine)
    assert ok.verdict is Verdict.VERIFIED and statuses(ok)["checkpoint"] == "pass"


# --- UNKNOWN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "name"),
    [(b"%PDF-1.7 not a media file", "doc.pdf"), (b"\x00\x01\x02 binary", "notes.txt"), (b"", "empty.png")],
)
def test_non_media_file_is_unknown(campaign: Campaign, data: bytes, name: str) -> None:
    report = verify_bytes(data, name, campaign.ctx)
    assert report.verdict is Verdict.UNKNOWN and report.verdict.exit_code == 22
    assert report.binding == "none" and statuses(report) == {"format": "fail"}


def test_unregistered_image_without_metadata_is_unknown(campaign: Campaign) -> None:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:400, 0:400]
    img = np.stack([(x * 0.6 + rng.integers(0, 40)) % 255, (y * 0.4) % 255, (x + y) % 255], -1)
    noise = Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8))
    for data in (png_bytes(Image.fromarray(img.astype(np.uint8))), png_bytes(noise, "JPEG")):
        report = verify_bytes(data, "random", campaign.ctx)
        assert report.verdict is Verdict.UNKNOWN and report.matched_cid is None
        assert statuses(report) == {"credential": "fail"}


def test_missing_file_is_unknown(campaign: Campaign, tmp_path: Path) -> None:
    report = verify_path(tmp_path / "nope.png", campaign.ctx)
    assert report.verdict is Verdict.UNKNOWN and statuses(report) == {"read": "fail"}


# --- never raises ----------------------------------------------------------------------------------
def _no_provenance(report: VerifyReport, data: bytes, name: str) -> None:
    """Bytes that carry no credential and look like no registered asset: UNKNOWN, with the one
    failed check that says why (not a media file at all, or a media file without a credential)."""
    assert report.verdict is Verdict.UNKNOWN and report.verdict.exit_code == 22, report.checks
    assert report.binding == "none" and report.matched_cid is None and report.receipt is None
    expected = "format" if sniff(data, name) is None else "credential"
    assert [(c.name, c.status, c.effect) for c in report.checks] == [(expected, "fail", Verdict.UNKNOWN)]
    json.loads(report_json(report))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from(
        [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WAVE", b"fLaC"]
    ),
    body=st.binary(max_size=2048),
    name=st.sampled_from(["a.png", "b.txt", "c.wav", "d.bin"]),
)
@example(prefix=b"\x89PNG\r\n\x1a\n", body=b"\x00\x00\x00\x10jumdc2pa" + bytes(8), name="a.png")
def test_random_bytes_never_raise_and_are_unknown(
    campaign: Campaign, prefix: bytes, body: bytes, name: str
) -> None:
    data = prefix + body
    report = verify_bytes(data, name, campaign.ctx)
    media_type = sniff(data, name)
    if b"jumdc2pa" in data and media_type is not None and embeds(media_type):
        # the bytes of a C2PA manifest store's header in a media file c2pa cannot parse: a
        # credential was embedded and the file damaged since (never UNKNOWN, never VERIFIED)
        assert report.verdict is Verdict.TAMPERED, report.checks
        return
    _no_provenance(report, data, name)


# positions spread evenly over the file (floats would cluster at 0 and 1, the container's header)
_where = st.integers(0, 1 << 20).map(lambda n: n / (1 << 20))
_op = st.tuples(st.sampled_from(["flip", "truncate", "insert"]), _where, st.binary(min_size=1, max_size=16))


def _mutate(data: bytes, ops: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, payload in ops:
        at = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[at] ^= payload[0] or 0xFF
        elif kind == "truncate":
            del out[at:]
        else:
            out[at:at] = payload
    return bytes(out)


def manifest_span(data: bytes) -> tuple[int, int]:
    """[start, end) of the embedded C2PA manifest store's container chunk (PNG ``caBX``, RIFF
    ``C2PA``): the one byte range the hard binding's data hash excludes."""
    if data.startswith(b"\x89PNG"):
        pos, size = chunk(data, b"caBX")
        return pos, pos + size
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"C2PA":
            return pos, pos + 8 + size + (size & 1)
        pos += 8 + size + (size & 1)
    raise AssertionError("no C2PA chunk in the WAV")


def _only_inside(original: bytes, mutated: bytes, span: tuple[int, int]) -> bool:
    """Whether every byte outside ``span`` (the bytes the data hash covers) is unchanged."""
    head, tail = original[: span[0]], original[span[1] :]
    return len(mutated) >= len(head) + len(tail) and mutated.startswith(head) and mutated.endswith(tail)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["image", "audio"]), ops=st.lists(_op, min_size=1, max_size=3))
@example(which="image", ops=[("flip", 0.8, b"\x01")])  # one bit of pixel data
@example(which="audio", ops=[("flip", 0.5, b"\x01")])  # one bit of a sample
@example(which="image", ops=[("flip", 0.0007562637329101562, b"\x00")])  # unsigned manifest padding
def test_mutated_signed_files_are_never_verified(
    campaign: Campaign, which: str, ops: list[tuple[str, float, bytes]]
) -> None:
    """A mutation that touches a byte the hash binding covers is never VERIFIED. The only bytes it
    does not cover are the manifest store's own chunk, protected by the claim signature instead:
    a mutation confined to it is stated as such, and if it still verifies (unsigned COSE padding),
    the report says exactly what the untouched file's report says."""
    row = campaign.row(which, "medium-rectangle" if which == "image" else None)
    original = campaign.data(row)
    mutated = _mutate(original, ops)
    report = verify_bytes(mutated, row.path, campaign.ctx)
    json.loads(report_json(report))
    if mutated == original:  # two flips of one byte cancel out
        assert report.verdict is Verdict.VERIFIED, report.checks
    elif not _only_inside(original, mutated, manifest_span(original)):
        assert report.verdict is not Verdict.VERIFIED, report.checks
    elif report.verdict is Verdict.VERIFIED:
        genuine = verify_bytes(original, row.path, campaign.ctx)
        assert report.origin == genuine.origin and report.history == genuine.history
        assert report.receipt == genuine.receipt


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_any_flip_inside_image_data_is_tampered(campaign: Campaign, where: float, mask: int) -> None:
    data = bytearray(campaign.data(campaign.row("image", "medium-rectangle")))
    idats = [c for c in png_chunks(bytes(data)) if c[0] == b"IDAT"]
    start, end = idats[0][1], idats[-1][1] + idats[-1][2]
    data[start + int(where * (end - start))] ^= mask
    report = verify_bytes(bytes(data), "m.png", campaign.ctx)
    assert report.verdict is Verdict.TAMPERED, report.checks


def test_look_alike_registered_assets_are_reported(campaign: Campaign) -> None:
    import numpy as np

    from mintloom.provenance.fingerprint import fingerprint
    from mintloom.verify.index import FingerprintIndex
    from mintloom.verify.verifier import VerifyContext

    row = campaign.row("image", "square")
    buf = io.BytesIO()
    with Image.open(io.BytesIO(campaign.data(row))) as img:
        img.save(buf, "PNG")  # stripped copy
    fp = fingerprint(buf.getvalue())
    twins = FingerprintIndex.build(
        [0, 1], np.array([fp.phash] * 2, np.uint64), np.array([fp.dhash] * 2, np.uint64)
    )
    ctx = VerifyContext(
        campaign.ctx.trust_anchors_pem, campaign.ctx.catalog, campaign.ctx.log, campaign.ctx.blobs
    )
    ctx._index = (twins, [row.cid, "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"])
    report = verify_bytes(buf.getvalue(), "twin.png", ctx)
    assert report.matched_cid == row.cid and report.verdict is Verdict.VERIFIED
    (info,) = [c for c in report.checks if c.name == "fingerprint ambiguity"]
    assert info.status == "info" and "1 other registered asset(s) look almost the same" in info.detail


def test_receipt_from_a_forked_log_is_untrusted(campaign: Campaign, tmp_path: Path) -> None:
    """Whoever holds a signer key of this organisation (a retired one after `keys rotate`, say)
    can sign a file and a checkpoint of a log of his own. In the workspace, a checkpoint of a size
    its log reached but with another root is a fork of the log, not a proof: UNTRUSTED."""
    from mintloom.provenance.log import TransparencyLog
    from mintloom.schema import open_workspace_database
    from mintloom.store.cid import cid_for

    signer = campaign.studio.signer
    record = GenerationRecord(engine="forger", engine_version="1", seed=5, campaign="tiny",
                              segment_commitment="cd" * 32, locale="en-US")  # fmt: skip
    img = Image.fromarray(np.random.default_rng(5).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    signed = C2paAssetSigner(signer).sign(png_bytes(img), "image/png", record, title="fake.png")
    fork = TransparencyLog(open_workspace_database(f"sqlite:///{tmp_path / 'fork.db'}"))
    fork.append_batch([(cid_for(signed.data), signed.manifest_hash)])
    fork.issue_receipts(fork.checkpoint(signer))
    receipt = fork.receipt(cid_for(signed.data))
    assert receipt is not None and receipt.tree_size <= campaign.studio.log.size

    report = verify_bytes(signed.data, "fake.png", campaign.ctx, receipt=receipt)
    assert report.verdict is Verdict.UNTRUSTED, statuses(report)
    check = next(c for c in report.checks if c.name == "checkpoint")
    assert check.status == "fail" and "forked or forged log" in check.detail


def test_file_signed_with_a_retired_signer_key_after_rotation_is_untrusted(
    studio: Studio, tmp_path: Path
) -> None:
    """A signer key is rotated out (it leaked, say). Its holder signs a file and a checkpoint of a
    log of his own, larger than the workspace's: the workspace must not call that file VERIFIED."""
    from mintloom.provenance.log import TransparencyLog
    from mintloom.schema import open_workspace_database
    from mintloom.store.cid import cid_for

    retired = studio.signer
    studio.keys.rotate(PASSWORD)
    record = GenerationRecord(engine="forger", engine_version="1", seed=6, campaign="tiny",
                              segment_commitment="ef" * 32, locale="en-US")  # fmt: skip
    img = Image.fromarray(np.random.default_rng(6).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    signed = C2paAssetSigner(retired).sign(png_bytes(img), "image/png", record, title="fake.png")
    fork = TransparencyLog(open_workspace_database(f"sqlite:///{tmp_path / 'fork.db'}"))
    fork.append_batch([(cid_for(signed.data), signed.manifest_hash)])
    fork.issue_receipts(fork.checkpoint(retired))
    receipt = fork.receipt(cid_for(signed.data))
    assert receipt is not None

    fresh = Studio(studio.workspace, password=PASSWORD)
    try:
        report = verify_bytes(signed.data, "fake.png", verify_context(fresh, offline=True),
                              receipt=receipt)  # fmt: skip
        bare = verify_bytes(signed.data, "fake.png", verify_context(fresh, offline=True))
    finally:
        fresh.close()
    assert report.verdict is Verdict.UNTRUSTED, statuses(report)
    check = next(c for c in report.checks if c.name == "checkpoint")
    assert check.status == "fail" and "(retired)" in check.detail, check.detail
    # without a receipt, nothing shows the credential was signed before the retirement
    assert bare.verdict is Verdict.UNTRUSTED, statuses(bare)
    assert statuses(bare)["retired signer"] == "fail"


def test_retired_signer_is_refused_by_a_third_party_holding_the_exported_trust_bundle(
    studio: Studio, tmp_path: Path
) -> None:
    """Outside the workspace, `keys trust-anchor` exports the root and the CA-signed retirement
    list: a credential and checkpoint the retired key signs after the rotation are UNTRUSTED, while
    an asset it signed and logged before the rotation still verifies."""
    from mintloom.provenance.keys import split_trust_bundle
    from mintloom.provenance.log import TransparencyLog
    from mintloom.schema import open_workspace_database

    retired = studio.signer
    fork = TransparencyLog(open_workspace_database(f"sqlite:///{tmp_path / 'fork.db'}"))
    before = _forged_png(retired, 7)
    fork.append_batch([(cid_for(before.data), before.manifest_hash)])
    fork.issue_receipts(fork.checkpoint(retired))
    studio.keys.rotate(PASSWORD)
    after = _forged_png(retired, 8)
    fork.append_batch([(cid_for(after.data), after.manifest_hash)])
    fork.issue_receipts(fork.checkpoint(retired))

    anchors, retirements = split_trust_bundle(studio.keys.trust_bundle_pem())
    assert list(retirements) == [x509.load_pem_x509_certificate(retired.chain_pem).serial_number]
    ctx = VerifyContext(trust_anchors_pem=anchors, retired=retirements)
    old = verify_bytes(before.data, "old.png", ctx, receipt=fork.receipt(cid_for(before.data)))
    assert old.verdict is Verdict.VERIFIED and statuses(old)["retired signer"] == "pass", old.checks
    new = verify_bytes(after.data, "new.png", ctx, receipt=fork.receipt(cid_for(after.data)))
    assert new.verdict is Verdict.UNTRUSTED, statuses(new)
    assert statuses(new)["checkpoint"] == "fail" and statuses(new)["retired signer"] == "fail"


def _forged_png(signer: LocalSigner, seed: int) -> SignedAsset:
    record = GenerationRecord(engine="forger", engine_version="1", seed=seed, campaign="tiny",
                              segment_commitment="ab" * 32, locale="en-US")  # fmt: skip
    img = Image.fromarray(np.random.default_rng(seed).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    return C2paAssetSigner(signer).sign(png_bytes(img), "image/png", record, title=f"f{seed}.png")


@pytest.mark.chain
@pytest.mark.xdist_group("anvil")
def test_anchor_block_time_bounds_the_checkpoint_time_it_claims(studio: Studio, anvil: NodeInfo) -> None:
    """A checkpoint's time is its signer's claim. Online, the block that anchored it is the latest
    it can have been signed: one claiming a later time is refused, and so is one anchored after its
    signer certificate expired (a holder of the expired key backdating it); offline both pass."""
    from mintloom.ledger.node import rpc_call

    ca = issue("Anchor Test Root", None, ca=True, path_length=0, not_after=NOW + dt.timedelta(days=365))
    leaf = issue("Anchor Test signer", ca, ca=False, not_after=NOW + dt.timedelta(days=20))
    signer = LocalSigner(leaf.key, leaf.pem() + ca.pem())

    def log_and_anchor(seed: int, claimed: dt.datetime) -> tuple[bytes, Receipt]:
        signed = _forged_png(signer, seed)
        studio.log.append_batch([(cid_for(signed.data), signed.manifest_hash)])
        studio.log.issue_receipts(studio.log.checkpoint(signer, timestamp=int(claimed.timestamp())))
        studio.contracts()  # deploying is its own step (cached after the first call)
        studio.anchor()
        receipt = studio.log.receipt(cid_for(signed.data))
        assert receipt is not None and receipt.anchor is not None
        return signed.data, receipt

    honest = log_and_anchor(1, dt.datetime.now(dt.UTC))
    ahead = log_and_anchor(4, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20))  # a clock ahead
    future = log_and_anchor(2, NOW + dt.timedelta(days=10))  # within the leaf's validity
    rpc_call(anvil.rpc_url, "evm_increaseTime", [30 * 86400])  # the leaf has expired on chain
    backdated = log_and_anchor(3, dt.datetime.now(dt.UTC))

    online = verify_context(studio)
    offline = verify_context(studio, offline=True)
    assert online.chain is not None
    for ctx in (online, offline):
        ctx.trust_anchors_pem = ca.pem().decode()
    for data, receipt in (honest, ahead):  # within the clock skew allowed
        ok = verify_bytes(data, "honest.png", online, receipt=receipt)
        assert ok.verdict is Verdict.VERIFIED and statuses(ok)["anchor time"] == "pass", ok.checks
    for (data, receipt), why in ((future, "after the block that anchored it"),
                                 (backdated, "after its signer certificate expired")):  # fmt: skip
        assert verify_bytes(data, "x.png", offline, receipt=receipt).verdict is Verdict.VERIFIED
        report = verify_bytes(data, "x.png", online, receipt=receipt)
        assert report.verdict is Verdict.UNTRUSTED, statuses(report)
        check = next(c for c in report.checks if c.name == "anchor time")
        assert check.status == "fail" and why in check.detail, check.detail


def _cose_padding(data: bytes) -> int:
    """Offset of a byte in the middle of the active manifest's COSE ``pad`` (zeros reserved for the
    signature, in its unprotected header: not covered by the claim signature)."""
    start, end = manifest_span(data)
    at = data.rindex(b"\x63pad\x59", start, end) + 5  # text "pad", then a bstr with a 2-byte length
    length = int.from_bytes(data[at : at + 2], "big")
    assert length > 2 and data[at + 2 : at + 2 + length] == bytes(length), "no zero padding found"
    return at + 2 + length // 2


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_flip_in_unsigned_manifest_padding_is_not_the_logged_file(campaign: Campaign, kind: str) -> None:
    """c2pa still validates a copy whose COSE padding was altered, but it is not the file the
    workspace logged: no receipt, lineage or licence of the logged file, and not VERIFIED."""
    row = campaign.row(kind, "medium-rectangle" if kind == "image" else None)
    copy = bytearray(campaign.data(row))
    copy[_cose_padding(bytes(copy))] ^= 0xFF
    report = verify_bytes(bytes(copy), row.path, campaign.ctx)
    assert statuses(report)["hash binding"] == "pass" and statuses(report)["signature"] == "pass"
    assert report.verdict is Verdict.UNTRUSTED, [(c.name, c.status, c.detail) for c in report.checks]
    logged = next((c for c in report.checks if c.name == "logged file"), None)
    assert logged is not None, [(c.name, c.status, c.detail) for c in report.checks]
    assert logged.status == "fail" and row.cid in logged.detail and report.cid in logged.detail
    assert report.cid != row.cid and report.receipt is None
    assert verify_bytes(campaign.data(row), row.path, campaign.ctx).verdict is Verdict.VERIFIED


def test_padding_copy_with_the_logged_receipt_is_refused(campaign: Campaign) -> None:
    """A third party holding the logged file's receipt and the altered copy: the receipt is for
    another asset, so the copy is not VERIFIED either way."""
    row = campaign.row("image", "medium-rectangle")
    copy = bytearray(campaign.data(row))
    copy[_cose_padding(bytes(copy))] ^= 0x01
    assert campaign.ctx.log is not None
    receipt = campaign.ctx.log.receipt(row.cid)
    assert receipt is not None
    outside = VerifyContext(campaign.ctx.trust_anchors_pem)
    report = verify_bytes(bytes(copy), row.path, outside, receipt=receipt)
    assert report.verdict is Verdict.UNTRUSTED, report.checks
    assert "another asset" in next(c.detail for c in report.checks if c.name == "log receipt")


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_flip_in_signed_manifest_part_is_not_verified(campaign: Campaign, kind: str) -> None:
    """A byte of the generation assertion (covered by the claim's hashed URI) altered in the
    manifest store: the credential no longer checks out."""
    row = campaign.row(kind, "medium-rectangle" if kind == "image" else None)
    copy = bytearray(campaign.data(row))
    start, end = manifest_span(bytes(copy))
    at = bytes(copy).rindex(b"segment_commitment", start, end)  # the active manifest comes last
    copy[at] ^= 0x01
    report = verify_bytes(bytes(copy), row.path, campaign.ctx)
    assert report.verdict is Verdict.TAMPERED, report.checks
