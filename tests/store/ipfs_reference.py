"""The independent IPFS implementation the CID tests compare against: the JS importer under node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from mintloom.store.cid import CHUNK_SIZE, MAX_LINKS

SCRIPT = Path(__file__).with_name("unixfs_reference.mjs")


def reference(
    paths: list[Path], *, chunk: int = CHUNK_SIZE, links: int = MAX_LINKS
) -> list[dict[str, object]]:
    """Root CID and blocks the JS importer produces for each file."""
    node = shutil.which("node")
    assert node is not None, "node is required for the IPFS reference test"
    args = [node, str(SCRIPT), "--chunk", str(chunk), "--links", str(links), *map(str, paths)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"reference importer failed (run `npm ci`?): {proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines()]
