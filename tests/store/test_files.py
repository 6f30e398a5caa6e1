"""The shared hostile-input guards: bounded regular-file reads and output containment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.errors import OutputPathError, SpecError, VerifyError
from mintloom.store.files import contained, is_safe_name, read_regular, write_atomic
from mintloom.studio import Studio


@pytest.mark.parametrize("source", ["/dev/zero", "/dev/urandom", "/proc/self", "fifo", "link", "folder"])
def test_only_regular_files_are_read(tmp_path: Path, source: str) -> None:
    path = Path(source)
    if source == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif source == "link":
        path = tmp_path / "link"
        path.symlink_to("/dev/zero")
    elif source == "folder":
        path = tmp_path
    with pytest.raises(VerifyError, match="is not a regular file"):
        read_regular(path, limit=1024, what="input", error=VerifyError)


def test_size_cap_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x" * 1025)
    with pytest.raises(SpecError, match=r"input: .* is 1025 bytes, over the limit of 1024"):
        read_regular(f, limit=1024, what="input", error=SpecError)
    assert read_regular(f, limit=1025, what="input", error=SpecError) == b"x" * 1025
    with pytest.raises(SpecError, match=r"input: cannot read .*: No such file"):
        read_regular(tmp_path / "missing", limit=1, what="input", error=SpecError)


@pytest.mark.parametrize("name", ["tiny", "en-US", "a.b_c-1", "A" * 64])
def test_safe_names(name: str) -> None:
    assert is_safe_name(name)


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "a/b", "a\\b", ".env", "-x", "A" * 65, "a\x00b", "é"]
)
def test_unsafe_names(name: str) -> None:
    assert not is_safe_name(name)


def test_contained(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "c").mkdir(parents=True)
    assert contained(out, out / "c" / "x.png") == out / "c" / "x.png"
    with pytest.raises(OutputPathError, match="outside the output folder"):
        contained(out, out / "c" / ".." / ".." / "x.png")
    (out / "evil").symlink_to(tmp_path)
    with pytest.raises(OutputPathError, match="outside the output folder"):
        contained(out, out / "evil" / "x.png")


def test_a_symlink_planted_in_out_is_not_followed_by_export(studio: Studio, tmp_path: Path) -> None:
    """The campaign's folder in out/ is a symlink to elsewhere: nothing is written there."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    studio.workspace.out_dir.mkdir(parents=True, exist_ok=True)
    (studio.workspace.out_dir / "tiny").symlink_to(outside)
    spec = load_spec(write_sample_campaign(tmp_path / "campaign"))
    with pytest.raises(OutputPathError, match="outside the output folder"):
        CampaignRunner(studio.run_parts(), spec, batch_size=5).run()
    assert list(outside.iterdir()) == []


def test_write_atomic_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    """A symlink at the export's name or at its temp file's name points outside: the write
    replaces the link and leaves the file it pointed at untouched."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    out = tmp_path / "out"
    out.mkdir()
    target = out / "x.png"
    target.symlink_to(outside)
    (out / "x.png.tmp").symlink_to(outside)
    write_atomic(contained(out, target), b"new bytes")
    assert not target.is_symlink() and target.read_bytes() == b"new bytes"
    assert outside.read_bytes() == b"keep me" and not (out / "x.png.tmp").exists()
