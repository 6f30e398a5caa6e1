"""Ingesting hostile folders: opt-outs (real c2pa, exiftool-written XMP, a list), duplicates,
FIFOs, symlinks in and out of the folder, vanishing files, large files, contributors."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from mintloom.errors import DatasetInputError, SymlinkEscapeError
from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.dataset import DatasetTree
from mintloom.provenance.ingest import (
    Contributor,
    Ingested,
    IngestOptions,
    _ingest_one,
    datasheet_template,
    entries_of,
    ingest,
    load_contributors,
    load_opt_out,
    manifest_json,
    walk,
)
from mintloom.store.cid import CHUNK_SIZE, cid_for, cid_for_file
from tests.provenance.conftest import png_bytes, record

CURATOR = "0x" + "c0" * 20
ANN = "0x" + "a1" * 20
OPTS = IngestOptions("CC-BY-4.0", CURATOR)
PLUS_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        plus => { SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::plus' } },
    },
);
%Image::ExifTool::UserDefined::plus = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-plus', 2 => 'Author' },
    NAMESPACE => { 'plus' => 'http://ns.useplus.org/ldf/xmp/1.0/' },
    WRITABLE => 'string',
    DataMining => { },
);
1;
"""


def reasons(done: Ingested) -> dict[str, str]:
    return {x.path: x.reason for x in done.excluded}


def test_plain_folder_commits_every_file_once_whatever_the_walk_order(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"sub{i % 2}").mkdir(exist_ok=True)
        (tmp_path / f"sub{i % 2}" / f"f{i}.txt").write_bytes(b"file %d" % i)
    done = ingest(tmp_path, OPTS)
    assert sorted(e.cid for e in done.entries) == sorted(cid_for(b"file %d" % i) for i in range(5))
    assert done.excluded == [] and done.weights == {CURATOR: 5}
    assert done.paths[cid_for(b"file 0")] == "sub0/f0.txt"
    renamed = tmp_path.parent / (tmp_path.name + "-renamed")
    shutil.copytree(tmp_path, renamed)
    (renamed / "sub0" / "f0.txt").rename(renamed / "sub1" / "moved.txt")
    assert DatasetTree(ingest(renamed, OPTS).entries).root() == DatasetTree(done.entries).root()


def test_duplicates_are_kept_once_and_reported(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"same")
    (tmp_path / "b.txt").write_bytes(b"same")
    done = ingest(tmp_path, OPTS)
    assert len(done.entries) == 1
    assert reasons(done) == {"b.txt": "duplicate"}
    assert "a.txt" in done.excluded[0].detail


def test_fifo_socket_and_symlink_inside_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(b"real")
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    (tmp_path / "alias.txt").symlink_to(tmp_path / "real.txt")
    try:
        done = ingest(tmp_path, OPTS)  # a FIFO never hangs the walk
    finally:
        sock.close()
    assert reasons(done) == {"pipe": "not-regular", "sock": "not-regular", "alias.txt": "symlink"}
    assert [e.cid for e in done.entries] == [cid_for(b"real")]


@pytest.mark.parametrize("target", ["/etc/hostname", "../../outside.txt"])
def test_symlink_out_of_the_folder_refuses_the_ingest_by_name(tmp_path: Path, target: str) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    (folder / "ok.txt").write_text("ok")
    (folder / "nested").mkdir()
    (folder / "nested" / "leak").symlink_to(target)
    with pytest.raises(SymlinkEscapeError, match="nested/leak"):
        ingest(folder, OPTS)


def test_symlinked_folder_out_of_the_dataset_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "escape").symlink_to(tmp_path)
    with pytest.raises(SymlinkEscapeError):
        ingest(folder, OPTS)


def test_file_vanishing_between_listing_and_reading_is_reported_unreadable(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "gone.txt").write_text("b")
    out = Ingested()
    for rel, entry in walk(tmp_path):
        if rel == "gone.txt":
            os.unlink(entry.path)
        _ingest_one(tmp_path, rel, entry, OPTS, out)
    assert reasons(out) == {"gone.txt": "unreadable"}
    assert len(out.entries) == 1


def test_large_file_gets_the_same_cid_as_an_asset(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * CHUNK_SIZE + 17))
    (done,) = ingest(tmp_path, OPTS).entries
    assert done.cid == cid_for_file(big) and done.size == 3 * CHUNK_SIZE + 17


def test_not_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(DatasetInputError):
        ingest(tmp_path / "f", OPTS)
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(DatasetInputError):
        ingest(tmp_path / "link", OPTS)


def test_c2pa_training_not_allowed_is_excluded(tmp_path: Path, asset_signer: C2paAssetSigner) -> None:
    for use in ("notAllowed", "constrained", "allowed"):
        signed = asset_signer.sign(png_bytes(seed=len(use)), "image/png", record(ai_training=use), title=use)
        (tmp_path / f"{use}.png").write_bytes(signed.data)
    done = ingest(tmp_path, OPTS)
    assert reasons(done) == {
        "notAllowed.png": "c2pa-training-notAllowed",
        "constrained.png": "c2pa-training-constrained",
    }
    assert [done.paths[e.cid] for e in done.entries] == ["allowed.png"]
    assert "cawg.training-mining" in done.excluded[0].detail


def test_c2pa_opt_out_in_a_large_file_is_seen(tmp_path: Path, asset_signer: C2paAssetSigner) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(buf, "PNG")  # noise: no compression
    big = buf.getvalue()
    assert len(big) > CHUNK_SIZE
    signed = asset_signer.sign(big, "image/png", record(ai_training="notAllowed"), title="big")
    (tmp_path / "big.png").write_bytes(signed.data)
    assert reasons(ingest(tmp_path, OPTS)) == {"big.png": "c2pa-training-notAllowed"}


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_xmp_plus_data_mining_prohibited_is_excluded(tmp_path: Path, suffix: str) -> None:
    """The XMP is written by exiftool (not by us), with plus:DataMining defined by a config file."""
    from PIL import Image

    config = tmp_path / "plus.cfg"
    config.write_text(PLUS_CONFIG)
    folder = tmp_path / "ds"
    folder.mkdir()
    values = {"no": "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING",
              "yes": "http://ns.useplus.org/ldf/vocab/DMI-ALLOWED"}  # fmt: skip
    for stem, value in values.items():
        path = folder / f"{stem}.{suffix}"
        Image.new("RGB", (8, 8), (len(stem), 2, 3)).save(path)
        subprocess.run(
            ["exiftool", "-config", str(config), "-q", "-overwrite_original",
             f"-XMP-plus:DataMining={value}", str(path)],
            check=True, timeout=60,
        )  # fmt: skip
    done = ingest(folder, OPTS)
    assert reasons(done) == {f"no.{suffix}": "xmp-data-mining-prohibited"}
    assert "DMI-PROHIBITED-AIMLTRAINING" in done.excluded[0].detail


def test_xmp_with_an_entity_bomb_is_not_expanded(tmp_path: Path) -> None:
    bomb = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><!DOCTYPE x [<!ENTITY a "DMI-PROHIBITED">]>'
            b"<plus:DataMining>&a;</plus:DataMining></x:xmpmeta>")  # fmt: skip
    (tmp_path / "bomb.xmp").write_bytes(bomb)
    done = ingest(tmp_path, OPTS)
    assert done.excluded == [] and len(done.entries) == 1


def test_opt_out_list_by_cid_and_by_path(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    (folder / "sub").mkdir(parents=True)
    for name in ("keep.txt", "by-cid.txt", "sub/by-path.txt"):
        (folder / name).write_text(name)
    listing = tmp_path / "optout.txt"
    cid = cid_for(b"by-cid.txt")
    listing.write_text(f"# contributors who asked out\n{cid}\nsub/by-path.txt  # email 2026-11-02\n")
    done = ingest(folder, IngestOptions("CC-BY-4.0", CURATOR, opt_out=load_opt_out(listing)))
    assert reasons(done) == {"by-cid.txt": "opt-out-list", "sub/by-path.txt": "opt-out-list"}


def test_contributors_csv_sets_contributors_and_weights(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(name)
    csv = tmp_path / "contributors.csv"
    csv.write_text(f"path,contributor,weight\na.txt,{ANN},3\nb.txt,{ANN.upper().replace('0X', '0x')}\n")
    contributors = load_contributors(csv)
    assert contributors["a.txt"] == Contributor(ANN, 3)
    done = ingest(folder, IngestOptions("CC-BY-4.0", CURATOR, contributors=contributors))
    assert done.weights == {ANN: 4, CURATOR: 1}
    by_path = {done.paths[e.cid]: e.contributor for e in done.entries}
    assert by_path == {"a.txt": ANN, "b.txt": ANN, "c.txt": CURATOR}


@pytest.mark.parametrize("row", ["a.txt,mallory", "a.txt", f"a.txt,{ANN},-1", f"a.txt,{ANN},x"])
def test_bad_contributor_rows_are_refused_with_their_line(tmp_path: Path, row: str) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text(f"path,contributor\n{row}\n")
    with pytest.raises(DatasetInputError, match=r"c\.csv:2"):
        load_contributors(csv)


def test_contributors_csv_must_be_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(DatasetInputError):
        load_contributors(tmp_path / "fifo.csv")


def test_manifest_and_datasheet_record_terms_entries_and_exclusions(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("a")
    done = ingest(tmp_path, OPTS)
    sheet = datasheet_template("brand", "CC-BY-4.0", done)
    for section in ("Motivation", "Composition", "Collection process", "Consent", "Licences", "Known limits"):
        assert f"## {section}" in sheet
    assert "1 duplicate" in sheet
    manifest = manifest_json("brand", "CC-BY-4.0", CURATOR, cid_for(sheet.encode()), done)
    doc = json.loads(manifest)
    assert doc["root"] == DatasetTree(done.entries).root().hex() and doc["count"] == 1
    assert doc["excluded"] == [["b.txt", "duplicate", done.excluded[0].detail]]
    assert entries_of(manifest) == done.entries


def test_opt_out_list_matches_hidden_files_and_dot_slash_paths(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / ".hidden.jpg").write_text("h")
    (folder / "shown.jpg").write_text("s")
    listing = tmp_path / "optout.txt"
    listing.write_text(".hidden.jpg\n./shown.jpg\n")
    done = ingest(folder, IngestOptions("CC-BY-4.0", CURATOR, opt_out=load_opt_out(listing)))
    assert reasons(done) == {".hidden.jpg": "opt-out-list", "shown.jpg": "opt-out-list"}
