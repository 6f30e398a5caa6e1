"""A writer SIGKILLed between writing a blob's temp file and renaming it leaves the temp behind;
the next write of that blob removes it, but never the temp file of a writer still alive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mintloom.store.blobs import LocalBlobStore
from mintloom.store.cid import cid_for


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_writers_temp_is_removed_and_a_live_writers_kept(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"licence json"
    target = store.path(cid_for(data))
    target.parent.mkdir(parents=True)
    dead = target.with_name(f"{target.name}.{_dead_pid()}-abcdef012345.tmp")
    live = target.with_name(f"{target.name}.{os.getpid()}-abcdef012345.tmp")
    other = target.with_name(f"other.{_dead_pid()}-abcdef012345.tmp")  # another blob's: not ours to judge
    for tmp in (dead, live, other):
        tmp.write_bytes(b"half")
    assert store.put_many([data]) == [cid_for(data)]
    assert target.read_bytes() == data
    assert not dead.exists() and live.exists() and other.exists()
