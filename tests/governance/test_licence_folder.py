"""A campaign-sized licence folder (5,000 ``{id}.json``, past IPFS's 256 KiB of links) is stored,
exported to a CAR as its HAMT shards, and ``uri(id)`` paths resolve from that CAR alone (every
name is resolved in tests/store/test_hamt.py; here one in ten, for time)."""

from __future__ import annotations

import random
from pathlib import Path

from mintloom.governance.licence_metadata import LicenceFolderRow, folder_export, stored_folders
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.car import read_car, write_car
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from mintloom.store.hamt import lookup
from mintloom.store.published import canonical_json, folder_cid
from mintloom.store.unixfs import UNIXFS_HAMT_SHARD, read_node


def test_a_5000_licence_folder_exports_as_shards_and_its_ids_resolve(db: Database, tmp_path: Path) -> None:
    rng = random.Random(1155)
    files = {
        f"{rng.getrandbits(256):064x}.json": canonical_json({"terms_id": i % 5, "n": i}) for i in range(5000)
    }
    blobs = LocalBlobStore(tmp_path / "blobs")
    root = folder_cid(files)  # refused before HAMT support: "too large for a flat UnixFS directory"
    listing = {name: blobs.put(data) for name, data in files.items()}
    with db.session() as s:
        s.add(LicenceFolderRow(chain_id=31337, root_cid=root, listing_cid=blobs.put(canonical_json(listing))))
    assert [r for r, _ in stored_folders(db, blobs)] == [root]
    car = tmp_path / "licences.car"
    write_car(car, [root], folder_export(db, blobs))
    roots, read = read_car(car)
    blocks = {str(c): b for c, b in read}
    assert roots == [root] and read_node(blocks[root]).type == UNIXFS_HAMT_SHARD
    for name, data in list(files.items())[::10]:  # ipfs://<root>/{id}.json, walked through the shards
        cid = lookup(blocks.__getitem__, root, name)
        assert cid == cid_for(data) and blocks[cid] == data
