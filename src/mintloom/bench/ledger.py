"""Ledger figures on a private anvil: anchor gas as the log grows, gas per asset, registration gas."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mintloom.bench import Figure
from mintloom.ledger.anchoring import anchor_log
from mintloom.ledger.assets import register_asset
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode
from mintloom.ledger.reader import Deployments
from mintloom.provenance.keys import KeyStore
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for

CHECKPOINTS = (1_000, 10_000, 100_000)


def run(work: Path) -> list[Figure]:
    keys = KeyStore(work / "keys")
    keys.init("bench", password="bench-password")
    signer = keys.signer("bench-password")
    db = open_workspace_database(f"sqlite:///{work / 'catalog.db'}")
    log = TransparencyLog(db)
    node = AnvilNode(work / "chain")
    info = node.start()
    figures: list[Figure] = []
    try:
        chain = ChainClient(info.rpc_url, ANVIL_DEV_KEY, db, Deployments(work / "chain" / "deployments.json"))
        deploy_all(chain)
        previous = 0
        for size in CHECKPOINTS:
            entries = [
                (cid_for(i.to_bytes(8, "big")), hashlib.sha256(i.to_bytes(8, "big")).digest())
                for i in range(previous, size)
            ]
            for i in range(0, len(entries), 20_000):
                log.append_batch(entries[i : i + 20_000])
            result = anchor_log(chain, log, signer)
            gas = result.gas_used or 0
            grown = size - previous
            note = f"anchor {previous}→{size}: {gas} gas for {grown} new assets"
            figures.append(Figure(f"anchor_gas_{size}", gas, "gas", note=note))
            target = 1.0 if size == 100_000 else None
            figures.append(
                Figure(f"anchor_gas_per_asset_{size}", gas / grown, "gas/asset", target, "<=", note)
            )
            previous = size
        cid = cid_for((CHECKPOINTS[-1] // 2).to_bytes(8, "big"))
        reg = register_asset(chain, log, Catalog(db), cid, blobs=LocalBlobStore(work / "blobs"))
        note = f"ERC-721 mint after an on-chain inclusion proof in a {CHECKPOINTS[-1]}-leaf tree"
        figures.append(Figure("lazy_registration_gas", reg.gas_used or 0, "gas", note=note))
    finally:
        node.stop()
        db.dispose()
    return figures
