"""Running a campaign end to end: determinism, resume, credentials, atomic batches."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.errors import LayoutError
from mintloom.provenance.content_credentials import read_credentials
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import AssetRow, Catalog, FingerprintRow, JobRow, LineageEdge
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.conftest import PASSWORD

from .conftest import SPEC, write_campaign


def run(studio: Studio, spec_path: Path, **kw: object) -> CampaignRunner:
    runner = CampaignRunner(studio.run_parts(), load_spec(spec_path), batch_size=5, **kw)  # type: ignore[arg-type]
    runner.run()
    return runner


def counts(studio: Studio) -> tuple[int, int, int, int]:
    with studio.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(AssetRow)) or 0,
            s.scalar(select(func.count()).select_from(JobRow)) or 0,
            s.scalar(select(func.count()).select_from(LineageEdge)) or 0,
            studio.log.size,
        )


def test_campaign_renders_every_variant_with_valid_credentials(studio: Studio, spec_path: Path) -> None:
    runner = CampaignRunner(studio.run_parts(), load_spec(spec_path), batch_size=5)
    summary = runner.run()
    # 2 segments × 2 locales × 3 formats images, 2 × 2 copy, 1 sound logo
    assert summary.generated == {"image": 12, "copy": 4, "audio": 1}
    assert counts(studio) == (17, 17, 8 + 2, 17)  # 8 resized + 2 translated edges
    assert summary.checkpoint_size == 17

    blobs, catalog = LocalBlobStore(studio.workspace.blobs_dir), Catalog(studio.db)
    anchors = studio.keys.trust_anchor_pem()
    for row in catalog.assets("tiny"):
        data = blobs.get(row.cid)
        sidecar = blobs.get(row.sidecar_cid) if row.sidecar_cid else None
        cred = read_credentials(data, row.media_type, trust_anchors_pem=anchors, sidecar=sidecar)
        assert cred.trusted and cred.hash_binding_valid, (row.path, cred.failures)
        assert cred.generation is not None and cred.generation.campaign == "tiny"
        assert cred.generation.segment_commitment != row.segment  # a salted hash, never the segment
        assert cred.manifest_hash == row.manifest_hash.hex()
        parents = catalog.parents(row.cid)
        if row.kind == "image" and row.format != "square":
            assert parents and parents[0][1] == "resized" and "c2pa.resized" in cred.actions
            assert [i.relationship for i in cred.ingredients] == ["parentOf"] and cred.ingredients[0].valid
        if row.kind == "image" and row.format == "square" and row.locale == "ar-EG":
            assert parents[0][1] == "translated" and "c2pa.translated" in cred.actions
        receipt = studio.log.receipt(row.cid)
        assert receipt is not None and receipt.verify() and receipt.leaf_index == row.leaf_index
        assert (studio.workspace.out_dir / "tiny" / row.path).read_bytes() == data
        tags = row.tag_dict()
        assert tags["kind"] == row.kind
        if row.kind == "image":
            assert tags["dimensions"] == {"width": row.width, "height": row.height}
            assert all(c["hex"].startswith("#") and c["name"] for c in tags["colors"])
            assert tags["locale"] == row.locale

    # a flipped byte in a signed image is reported as tampered
    png = next(r for r in catalog.assets("tiny", kind="image"))
    data = bytearray(blobs.get(png.cid))
    data[-40] ^= 0xFF
    cred = read_credentials(bytes(data), "image/png", trust_anchors_pem=anchors)
    assert cred.present and cred.tampered and not cred.hash_binding_valid, cred.failures

    with studio.db.session() as s:  # every image has its fingerprint and registration views
        assert s.scalar(select(func.count()).select_from(FingerprintRow)) == 12 * 11


def test_same_spec_twice_gives_identical_content_cids_and_resume_skips(
    studio: Studio, spec_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(studio, spec_path)
    first = {
        (r.kind, r.locale, r.segment, r.format): r.content_cid for r in Catalog(studio.db).assets("tiny")
    }

    other_ws = Workspace.init(tmp_path / "other")
    other = Studio(other_ws, password=PASSWORD)
    other.ensure_keys()
    copied = write_campaign(tmp_path / "copy")
    run(other, copied)
    second = {
        (r.kind, r.locale, r.segment, r.format): r.content_cid for r in Catalog(other.db).assets("tiny")
    }
    assert first == second and len(first) == 17

    again = CampaignRunner(studio.run_parts(), load_spec(spec_path)).run()  # resume: nothing left to do
    assert again.skipped == 17 and again.new_assets == 0
    assert counts(studio)[0] == 17


def test_failure_mid_run_keeps_catalog_consistent_and_resumes(studio: Studio, tmp_path: Path) -> None:
    long = "a headline that is far too long " * 12
    spec = SPEC.replace('headline: "{{ name }}, {{ offer }}% off"', 'headline: "{{ name }} ' + long + '"')
    path = write_campaign(tmp_path / "bad", spec)
    with pytest.raises(LayoutError) as err:
        run(studio, path)
    # one worker runs the jobs in plan order, images first, each master followed by its variants:
    # students' en-US master is done, then its first variant, the leaderboard, is refused
    assert err.value.message == (
        "job en-US/students/leaderboard (image, segment students, locale en-US, format leaderboard) "
        "failed: 'headline' text does not fit the leaderboard format (728x90) beside the other text "
        "even at the minimum size (box 417x72px)"
    )
    done = sorted(r.path for r in Catalog(studio.db).assets("tiny"))
    assert done == ["en-US/students/square.png"]
    assert counts(studio) == (1, 1, 0, 1)  # no asset without its job and its log leaf
    with studio.db.session() as s:
        orphans = s.scalars(select(JobRow.asset_cid).where(JobRow.asset_cid.not_in(select(AssetRow.cid))))
        assert list(orphans) == []

    fixed = write_campaign(tmp_path / "bad")  # fix the spec (same campaign name): resume completes
    summary = CampaignRunner(studio.run_parts(), load_spec(fixed)).run()
    assert summary.planned == 17
    # the fixed spec's jobs (2 segments × 2 locales × 3 formats + 2 × 2 copy + 1 sound logo) are
    # all new, its headline differs; the master of the broken run is kept
    assert summary.generated == {"image": 12, "copy": 4, "audio": 1} and summary.skipped == 0
    jobs = 2 * 2 * 3 + 2 * 2 + 1
    assert counts(studio) == (1 + jobs, 1 + jobs, 8 + 2, 1 + jobs)


def test_blob_store_layout_and_corruption(tmp_path: Path) -> None:
    from mintloom.errors import BlobError
    from mintloom.store.cid import cid_for

    store = LocalBlobStore(tmp_path / "blobs")
    cid = store.put(b"hello world")
    assert cid == cid_for(b"hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert store.path(cid).parent.name == cid[-3:-1]  # flatfs next-to-last/2
    assert store.get(cid) == b"hello world" and store.put(b"hello world") == cid
    store.path(cid).write_bytes(b"hello w0rld")
    with pytest.raises(BlobError, match="corrupted"):
        store.get(cid)
    with pytest.raises(BlobError, match="not in the store"):
        store.get(cid_for(b"other"))
    shutil.rmtree(tmp_path / "blobs")


def test_manifests_carry_no_audience_data(studio: Studio, spec_path: Path) -> None:
    import io

    import c2pa

    CampaignRunner(studio.run_parts(), load_spec(spec_path)).run()
    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    audience = ("students", "runners", "Alex", "Casey", "Berlin", "Osaka")
    for row in Catalog(studio.db).assets("tiny"):
        if row.sidecar_cid is not None:
            reader = c2pa.Reader("image/svg+xml", io.BytesIO(b"<svg/>"), blobs.get(row.sidecar_cid))
        else:
            reader = c2pa.Reader(row.media_type, io.BytesIO(blobs.get(row.cid)))
        with reader:
            manifest_json = reader.json()
        leaked = [word for word in audience if word in manifest_json]
        assert leaked == [], (row.path, leaked)


def test_identical_outputs_of_different_jobs_are_one_asset(studio: Studio, tmp_path: Path) -> None:
    from .conftest import SPEC

    same = SPEC.replace(
        'note: "{{ name }}: {{ offer }}% until {{ deadline | date }}"', 'note: "Lumen: warm up"'
    )
    runner = run(studio, write_campaign(tmp_path / "same", same))
    done = Catalog(studio.db).done_jobs("tiny")
    copies = Catalog(studio.db).assets("tiny", kind="copy")
    assert len(copies) == 1  # the same text for both segments and locales: one asset, logged once
    assert len(done) == 17 and len(set(done.values())) == 14
    assert studio.log.size == 14 and runner.plan().count("copy") == 4
    again = CampaignRunner(studio.run_parts(), load_spec(tmp_path / "same" / "campaign.yaml")).run()
    assert again.skipped == 17 and again.new_assets == 0


# --- every shipped file verifies ---------------------------------------------------------------
def verify_folder(folder: Path) -> tuple[int, list[dict[str, object]]]:
    """`mintloom verify FOLDER --offline --json` (the workspace from $MINTLOOM_WORKSPACE)."""
    import json

    from typer.testing import CliRunner

    from mintloom.cli.main import app

    result = CliRunner().invoke(app, ["verify", "--offline", "--json", str(folder)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, json.loads(result.stdout)


def test_duplicate_outputs_ship_the_logged_manifest(studio: Studio, tmp_path: Path) -> None:
    """Two audience rows that render the same copy, and the same copy in a second campaign, are one
    asset logged once: every job's exported file (and sidecar) must be the logged one, so every
    file verifies — not only the first job's."""
    from mintloom.campaign.sample import sample_spec

    row = "Alex,Berlin,15,EUR,3.90,2026-12-31\n"
    audience = f"segment,name,city,offer,currency,price,deadline\nstudents,{row}clones,{row}"
    for name in ("tiny", "twin"):
        spec = sample_spec(campaign=name, formats=("square",), audio=False)
        run(studio, write_campaign(tmp_path / name, spec, audience))
    out = studio.workspace.out_dir
    texts = sorted(out.rglob("*.txt"))
    assert len(texts) == 8 and len({p.read_bytes() for p in texts}) == 2  # 8 jobs, 2 distinct texts
    assert studio.log.size == 2 * 4 + 2  # 4 images per campaign, the copy logged once per text

    code, reports = verify_folder(out)
    verdicts = {str(Path(str(r["file"])).relative_to(out)): r["verdict"] for r in reports}
    assert len(verdicts) == 16 and set(verdicts.values()) == {"VERIFIED"}, verdicts
    assert code == 0
    blobs = LocalBlobStore(studio.workspace.blobs_dir)
    for row_ in Catalog(studio.db).assets(kind="copy"):  # the catalog names the logged sidecar too
        assert row_.sidecar_cid is not None
        assert hashlib.sha256(blobs.get(row_.sidecar_cid)).digest() == row_.manifest_hash


def test_rerun_restores_lost_or_damaged_exports(studio: Studio, tmp_path: Path) -> None:
    """A finished job's file that is missing (a crash between the batch commit and the export),
    damaged (same size, other bytes) or left as a temp file is rewritten from the blob store by
    the next run, which otherwise has nothing to do."""
    from mintloom.campaign.sample import sample_audience, sample_spec

    spec = sample_spec(formats=("square",), audio=False).replace(
        'note: "{{ name }}: {{ offer }}% until {{ deadline | date }}"', 'note: "Lumen: warm up"'
    )
    path = write_campaign(tmp_path / "c", spec, sample_audience(1))
    run(studio, path)
    folder = studio.workspace.out_dir / "tiny"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert len(before) == 6  # 2 images, 2 texts (one asset) with their sidecars
    (folder / "en-US/students/square.png").unlink()
    damaged = bytearray(before[folder / "ar-EG/students/square.png"])
    damaged[-50] ^= 0xFF
    (folder / "ar-EG/students/square.png").write_bytes(bytes(damaged))
    (folder / "ar-EG/students/note.txt.c2pa").unlink()  # the duplicate job's (logged) sidecar
    sidecar = folder / "en-US/students/note.txt.c2pa"
    sidecar.write_bytes(b"x" * len(before[sidecar]))
    (folder / "en-US/students/square.png.tmp").write_bytes(b"half an image")

    summary = CampaignRunner(studio.run_parts(), load_spec(path)).run()
    assert (summary.skipped, summary.new_assets, summary.restored) == (4, 0, 4)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before  # no temp file left
    code, reports = verify_folder(folder)
    assert code == 0 and [r["verdict"] for r in reports] == ["VERIFIED"] * 4


def test_symlinked_export_is_reported_once_and_replaced_by_a_rerun(studio: Studio, tmp_path: Path) -> None:
    """An exported file replaced by a symlink (here to a copy of the right bytes outside out/) is
    one file to `verify`, not a VERIFIED and a MISSING report for the same path; the next run
    writes the real file back in place of the link, so out/ holds only files mintloom wrote."""
    from mintloom.campaign.sample import sample_audience, sample_spec

    path = write_campaign(tmp_path / "c", sample_spec(formats=("square",), audio=False, copy=False),
                          sample_audience(1))  # fmt: skip
    run(studio, path)
    folder = studio.workspace.out_dir / "tiny"
    target = folder / "en-US/students/square.png"
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(elsewhere)

    code, reports = verify_folder(folder)
    files = [Path(str(r["file"])).relative_to(folder).as_posix() for r in reports]
    assert sorted(files) == ["ar-EG/students/square.png", "en-US/students/square.png"], reports
    assert code == 0
    summary = CampaignRunner(studio.run_parts(), load_spec(path)).run()
    assert summary.restored == 1 and not target.is_symlink()
    assert target.read_bytes() == elsewhere.read_bytes()
