"""verify DIR reads the catalog per chunk of files, not per file (issue 14): a folder costs a
bounded number of SQL statements, counted at the real database engine; every file's report is
the one it gets verified on its own; forged review records stay refused by name on that path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from mintloom.chain_lookup import verify_context
from mintloom.governance.review import decide, draw
from mintloom.provenance.keys import LocalSigner, issue_signer, make_ca
from mintloom.provenance.review import REVIEWER_UNIT, sign_review
from mintloom.studio import Studio
from mintloom.verify.report import Verdict, VerifyReport
from mintloom.verify.verifier import media_files, verify_many, verify_path
from tests.conftest import sample_studio
from tests.governance.test_review import BANNER, SQUARE, _insert, _record, _reviewer, _run, _spec


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = sample_studio(tmp_path_factory.mktemp("facts"))
    yield s
    s.close()


def _count_statements(studio: Studio) -> list[str]:
    seen: list[str] = []
    event.listen(studio.db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_folder_asks_the_catalog_a_bounded_number_of_statements(tiny: Studio) -> None:
    files = media_files(tiny.workspace.out_dir / "tiny")
    ctx = verify_context(tiny, offline=True)
    seen = _count_statements(tiny)
    reports = list(verify_many(files, ctx, workers=2))
    assert len(files) >= 15 and all(r.verdict is Verdict.VERIFIED for r in reports)
    # was 7 to 9 statements per file (~140 here): now a few per chunk of 64 files
    assert len(seen) <= 25, len(seen)


def test_each_report_in_a_folder_is_the_one_the_file_gets_alone(tiny: Studio) -> None:
    files = media_files(tiny.workspace.out_dir / "tiny")
    folder = list(verify_many(files, verify_context(tiny, offline=True), workers=2))
    alone = [verify_path(f, verify_context(tiny, offline=True)) for f in files]
    assert [r.model_dump() for r in folder] == [r.model_dump() for r in alone]
    assert any(r.history and "derived_from" in r.history[-1] for r in folder)  # lineage came through
    assert any(r.tags for r in folder) and any(r.qa for r in folder)


def _review(report: VerifyReport) -> tuple[str, str] | None:
    check = next((c for c in report.checks if c.name == "review"), None)
    return None if check is None else (check.status, check.detail)


def test_a_forged_review_next_to_a_genuine_one_is_refused_in_a_folder(studio: Studio, tmp_path: Path) -> None:
    _run(studio, _spec(tmp_path))
    anchor = studio.keys.trust_anchor_pem()
    draw(studio.db, "rv", size=2, seed=0)
    decide(studio.db, SQUARE, "approve", _reviewer(studio, "bob"), anchor)
    evil_key, evil_ca = make_ca("Lumen")  # a reviewer certificate of another root
    key, cert = issue_signer(evil_key, evil_ca, "Lumen", "es256", person="mallory", unit=REVIEWER_UNIT)
    from cryptography.hazmat.primitives.serialization import Encoding

    mallory = LocalSigner(key, cert.public_bytes(Encoding.PEM) + evil_ca.public_bytes(Encoding.PEM))
    signed = sign_review(_record(studio, mallory, BANNER), mallory)
    _insert(studio, signed.payload, signed.signature, signed.certificate_pem, group=BANNER)

    files = [f for f in media_files(studio.workspace.out_dir / "rv") if f.suffix == ".png"]
    folder = list(verify_many(files, verify_context(studio, offline=True), workers=2))
    alone = [verify_path(f, verify_context(studio, offline=True)) for f in files]
    assert [_review(r) for r in folder] == [_review(r) for r in alone]
    squares = [r for f, r in zip(files, folder, strict=True) if f.name == "square.png"]
    banners = [r for f, r in zip(files, folder, strict=True) if f.name == "leaderboard.png"]
    assert squares and banners
    for r in squares:
        review = _review(r)
        assert review is not None and review[0] == "pass" and "reviewed by bob" in review[1]
    for r in banners:
        review = _review(r)
        assert review is not None and review[0] == "warn" and review[1].startswith("review record refused")
        assert r.review is None
