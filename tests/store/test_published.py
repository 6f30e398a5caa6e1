"""Published documents: canonical JSON has one CID; folders are the UnixFS directories IPFS builds.

Folders are checked against the IPFS JS importer (``ipfs-unixfs-importer`` with
``wrapWithDirectory``, as ``ipfs add -r --cid-version 1 --raw-leaves``): same root CID and
byte-identical blocks.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mintloom.errors import BlobError
from mintloom.store.cid import CHUNK_SIZE, cid_for
from mintloom.store.published import SHARD_THRESHOLD, canonical_json, folder_blocks, folder_cid

SCRIPT = Path(__file__).with_name("unixfs_folder_reference.mjs")


def folder_reference(
    files: dict[str, bytes], where: Path, threshold: int = SHARD_THRESHOLD
) -> dict[str, Any]:
    """Root and blocks the JS importer gives a folder holding ``files`` (sharded past ``threshold``)."""
    where.mkdir()
    for name, data in files.items():
        (where / name).write_bytes(data)
    node = shutil.which("node")
    assert node is not None, "node is required for the IPFS reference test"
    proc = subprocess.run(
        [node, str(SCRIPT), str(where), str(threshold)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"reference importer failed (run `npm ci`?): {proc.stderr}"
    out = json.loads(proc.stdout)
    assert isinstance(out, dict)
    return out


def test_canonical_json_is_sorted_compact_and_reproducible() -> None:
    a = {"name": "Lumen", "attributes": [{"value": "en-US", "trait_type": "locale"}], "n": 3, "ok": True}
    b = {"ok": True, "n": 3, "attributes": [{"trait_type": "locale", "value": "en-US"}], "name": "Lumen"}
    assert canonical_json(a) == canonical_json(b)
    assert (
        canonical_json(a)
        == b'{"attributes":[{"trait_type":"locale","value":"en-US"}],"n":3,"name":"Lumen","ok":true}'
    )
    assert canonical_json(json.loads(canonical_json(a))) == canonical_json(a)  # a fixed point
    assert cid_for(canonical_json(a)) == cid_for(canonical_json(b))
    assert canonical_json({"é": "ü"}) == '{"é":"ü"}'.encode()  # UTF-8, not \\u escapes


@pytest.mark.parametrize(
    "bad",
    [
        {"x": 1.5},
        {"x": [float("nan")]},
        {1: "a"},
        {"x": b"bytes"},
        {"expiry": 2**64 - 1},  # a uint64 "never": JCS (and every JS wallet) reads 18446744073709552000
        {"x": -(2**53)},
        {"x": "\ud800"},  # a lone surrogate has no UTF-8 form
        {"\udfff": 1},
    ],
)
def test_canonical_json_refuses_what_has_no_single_text_form(bad: dict[Any, Any]) -> None:
    with pytest.raises(BlobError):
        canonical_json(bad)


def test_canonical_json_keeps_every_safe_integer() -> None:
    assert (
        canonical_json({"x": 2**53 - 1, "y": -(2**53 - 1)}) == b'{"x":9007199254740991,"y":-9007199254740991}'
    )


def test_folder_equals_the_ipfs_importer(tmp_path: Path) -> None:
    rng = random.Random(13)
    files = {
        f"{rng.getrandbits(256):064x}.json": canonical_json({"i": i, "name": f"licence {i}"})
        for i in range(40)
    }
    files["Z.json"] = b""  # empty file, and an upper-case name sorting before the hex names
    files["big.bin"] = rng.randbytes(CHUNK_SIZE * 2 + 7)  # a chunked file: its whole DAG is in the folder
    files["exact.bin"] = rng.randbytes(CHUNK_SIZE)
    ref = folder_reference(files, tmp_path / "f")
    blocks = list(folder_blocks(files))
    assert blocks[-1][0] == ref["root"] == folder_cid(files)
    assert {c: b.hex() for c, b in blocks} == ref["blocks"]


def test_empty_folder_is_the_ipfs_empty_directory() -> None:
    assert folder_cid({}) == "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"


@pytest.mark.parametrize("name", ["", "a/b", ".", ".."])
def test_folder_refuses_names_that_are_not_one_path_segment(name: str) -> None:
    with pytest.raises(BlobError):
        folder_cid({name: b"x"})
