"""Many files written whole with one flush to disk (issue 14: an fsync per file was the slowest
step of a run at scale). Each target still holds its old bytes or its new ones, never a part, and
a planted symlink is replaced, never written through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mintloom.store import files
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.cid import cid_for
from mintloom.store.files import write_atomic_many


def test_many_files_are_written_with_one_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[list[Path]] = []
    real = files.sync_files
    monkeypatch.setattr(files, "sync_files", lambda paths: (synced.append(list(paths)), real(paths)))
    items = [(tmp_path / f"f{i}.png", os.urandom(100 + i)) for i in range(40)]
    write_atomic_many(items)
    assert len(synced) == 1 and len(synced[0]) == 40
    assert all(p.read_bytes() == d for p, d in items)
    assert sorted(tmp_path.iterdir()) == sorted(p for p, _ in items)  # no temp file left


def test_a_kill_between_renames_leaves_old_or_new_bytes_and_no_temp(tmp_path: Path) -> None:
    old = [(tmp_path / f"f{i}", b"old") for i in range(5)]
    write_atomic_many(old)
    renamed = 0

    def die_on_third() -> None:
        nonlocal renamed
        if renamed == 2:
            raise KeyboardInterrupt  # a kill at the third rename
        renamed += 1

    with pytest.raises(KeyboardInterrupt):
        write_atomic_many([(p, b"new!") for p, _ in old], before_rename=die_on_third)
    assert [p.read_bytes() for p, _ in old] == [b"new!", b"new!", b"old", b"old", b"old"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_symlink_planted_at_a_target_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "ad.png").symlink_to(outside)
    write_atomic_many([(out / "ad.png", b"signed ad")])
    assert outside.read_bytes() == b"precious"
    assert not (out / "ad.png").is_symlink() and (out / "ad.png").read_bytes() == b"signed ad"


def test_put_many_stores_what_put_stores_once_per_distinct_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    datas = [b"a" * 10, b"b" * 20, b"a" * 10]
    cids = store.put_many(datas)
    assert cids == [cid_for(d) for d in datas]
    assert all(store.get(c) == d for c, d in zip(cids, datas, strict=True))
    assert store.put_many(datas) == cids  # idempotent
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 2
