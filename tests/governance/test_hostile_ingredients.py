"""Hostile ingredient files: a datasheet, weights file or ``--contracts`` file that is a device or
a FIFO is refused by name, quickly and in bounded memory (it used to hang on a FIFO and read
``/dev/zero`` until memory ran out). Weights are hashed a chunk at a time."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mintloom.errors import LedgerInputError
from mintloom.ledger.lineage import register_model
from mintloom.ledger.node import NodeInfo
from mintloom.store.files import MiB, sha256_regular
from mintloom.studio import Studio
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("anvil")


def _bounded() -> None:
    """A regression reads /dev/zero into memory: cap the child at 3 GiB so it fails instead."""
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def _cli(ws: Path | None, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    env.update({"MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "300"})
    if ws is not None:
        env["MINTLOOM_WORKSPACE"] = str(ws)
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", *args], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=60, check=False, preexec_fn=_bounded)  # fmt: skip
    assert time.perf_counter() - start < 60
    return r


def _hostile(tmp_path: Path, kind: str) -> Path:
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo")  # no writer: a blocking open waits forever
        return tmp_path / "fifo"
    if kind == "symlink":
        (tmp_path / "link").symlink_to("/dev/zero")
        return tmp_path / "link"
    return Path("/dev/zero")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "symlink"])
def test_hashing_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    with pytest.raises(LedgerInputError, match=r"weights file: .* is not a regular file"):
        sha256_regular(_hostile(tmp_path, kind), limit=1 << 40, what="weights file", error=LedgerInputError)


def test_weights_are_hashed_streaming_up_to_the_cap(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    data = os.urandom(3 * MiB + 17)  # several chunks, the last one partial
    weights.write_bytes(data)
    assert (
        sha256_regular(weights, limit=len(data), what="w", error=LedgerInputError)
        == hashlib.sha256(data).digest()
    )
    with pytest.raises(LedgerInputError, match=f"is {len(data)} bytes, over the limit of {len(data) - 1}"):
        sha256_regular(weights, limit=len(data) - 1, what="w", error=LedgerInputError)


def test_register_and_pin_refuse_devices_and_fifos(studio: Studio, anvil: NodeInfo, tmp_path: Path) -> None:
    ws = studio.workspace.root
    assert _cli(ws, "deploy").returncode == 0
    for kind in ("dev-zero", "fifo"):
        bad = _hostile(tmp_path / kind, kind) if kind == "dev-zero" else _make_fifo(tmp_path / kind)
        me = studio.chain.address
        commands = [
            ("datasheet", ["dataset", "register", "photos", "--datasheet", str(bad), "--license", "MIT"]),
            ("weights file", ["model", "register", "layout", "--weights", str(bad), "--trained-on", "photos",
                              "--license", "MIT"]),
            ("datasheet", ["dataset", "pin", "stock", "--datasheet", str(bad), "--curator", me]),
            ("weights file", ["model", "pin", "theirs", "--weights", str(bad), "--trainer", me]),
        ]  # fmt: skip
        for what, args in commands:
            r = _cli(ws, *args)
            err = " ".join(r.stderr.split())
            assert r.returncode == 6, (kind, args, r.stdout + r.stderr)
            assert f"{what}: {bad} is not a regular file" in err and "Traceback" not in err, err
    # the library path too: weights through a symlink to /dev/zero are refused before any send
    with pytest.raises(LedgerInputError, match="is not a regular file"):
        register_model(studio.chain, studio.db, "m", _hostile(tmp_path, "symlink"), trained_on=[],
                       license="MIT")  # fmt: skip


def _make_fifo(folder: Path) -> Path:
    folder.mkdir()
    return _hostile(folder, "fifo")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "symlink"])
@pytest.mark.parametrize("option", ["--contracts", "--trust"])
def test_verify_refuses_device_and_fifo_options(tmp_path: Path, kind: str, option: str) -> None:
    (tmp_path / "ad.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    bad = _hostile(tmp_path, kind)
    extra = ["--rpc", "http://127.0.0.1:9"] if option == "--contracts" else ["--offline"]
    r = _cli(None, "verify", str(tmp_path / "ad.png"), option, str(bad), *extra, cwd=tmp_path)
    err = " ".join(r.stderr.split())
    assert r.returncode in (6, 9), r.stdout + r.stderr
    assert f"{bad} is not a regular file" in err and "Traceback" not in err, err
