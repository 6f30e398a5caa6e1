"""Assets over 256 KiB: logged under their IPFS (UnixFS dag-pb) CID they verify, and so do the
ones an older workspace logged under a single raw-block CID (migration: old CIDs stay valid)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from mintloom.provenance.credentials import GenerationRecord, SignedAsset
from mintloom.store.cid import CHUNK_SIZE, DAG_PB_CODEC, RAW_CODEC, cid_for, codec_of, raw_cid
from mintloom.studio import Studio
from mintloom.verify.report import Verdict, VerifyReport
from mintloom.verify.verifier import VerifyContext, verify_bytes, verify_path


def _big_signed_png(studio: Studio, seed: int) -> SignedAsset:
    img = Image.fromarray(np.random.default_rng(seed).integers(0, 255, (400, 400, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    record = GenerationRecord(engine="noise", engine_version="1", seed=seed, campaign="big",
                              segment_commitment="ab" * 32, locale="en-US")  # fmt: skip
    signed = studio.asset_signer.sign(buf.getvalue(), "image/png", record, title=f"big-{seed}.png")
    assert len(signed.data) > CHUNK_SIZE
    return signed


def _log(studio: Studio, entries: list[tuple[str, SignedAsset]]) -> VerifyContext:
    studio.log.append_batch([(cid, s.manifest_hash) for cid, s in entries])
    studio.log.issue_receipts(studio.log.checkpoint(studio.signer))
    return VerifyContext(trust_anchors_pem=studio.keys.trust_anchor_pem(), log=studio.log)


def _passes(report: VerifyReport) -> bool:
    checks = {c.name: c.status for c in report.checks}
    return report.verdict is Verdict.VERIFIED and checks["inclusion proof"] == checks["checkpoint"] == "pass"


def test_new_and_legacy_cids_of_big_assets_verify(studio: Studio, tmp_path: Path) -> None:
    new, old = _big_signed_png(studio, 1), _big_signed_png(studio, 2)
    new_cid, old_cid = cid_for(new.data), raw_cid(old.data)  # old: logged before UnixFS CIDs
    assert codec_of(new_cid) == DAG_PB_CODEC and codec_of(old_cid) == RAW_CODEC
    ctx = _log(studio, [(new_cid, new), (old_cid, old)])

    report = verify_bytes(new.data, "new.png", ctx)
    assert _passes(report) and report.cid == new_cid
    report = verify_bytes(old.data, "old.png", ctx)
    assert _passes(report) and report.cid == old_cid

    # the same with only the receipt file, no log: each receipt names the CID it was issued for
    offline = VerifyContext(trust_anchors_pem=ctx.trust_anchors_pem)
    for name, signed, cid in (("new.png", new, new_cid), ("old.png", old, old_cid)):
        receipt = studio.log.receipt(cid)
        assert receipt is not None
        (tmp_path / name).write_bytes(signed.data)
        (tmp_path / f"{name}.receipt.json").write_text(receipt.model_dump_json())
        got = verify_path(tmp_path / name, offline, receipt_file=tmp_path / f"{name}.receipt.json")
        assert _passes(got) and got.cid == cid


def test_a_receipt_for_another_big_asset_is_refused(studio: Studio) -> None:
    """Attack: present the legacy receipt of one big asset with another big asset's bytes."""
    mine, theirs = _big_signed_png(studio, 3), _big_signed_png(studio, 4)
    ctx = _log(studio, [(raw_cid(theirs.data), theirs)])
    receipt = studio.log.receipt(raw_cid(theirs.data))
    assert receipt is not None
    report = verify_bytes(mine.data, "mine.png", ctx, receipt=receipt)
    assert report.verdict is Verdict.UNTRUSTED
    check = next(c for c in report.checks if c.name == "log receipt")
    assert check.status == "fail" and "another asset" in check.detail
