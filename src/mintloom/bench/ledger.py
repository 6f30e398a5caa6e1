"""Ledger figures on a private anvil: anchor gas for a fresh checkpoint and as the log grows,
gas per asset, registration gas. Each is one real ``anchor`` transaction (base fee, calldata,
storage and the consistency proof), as ``mintloom anchor`` sends it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from mintloom.bench import Figure
from mintloom.ledger.anchoring import anchor_log
from mintloom.ledger.assets import register_asset
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode
from mintloom.ledger.reader import Deployments
from mintloom.provenance.keys import KeyStore, Signer
from mintloom.provenance.log import TransparencyLog
from mintloom.schema import open_workspace_database
from mintloom.store.blobs import LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import cid_for
from mintloom.store.db import Database

CHECKPOINTS = (1_000, 10_000, 100_000)


@dataclass(frozen=True)
class Sizes:
    checkpoints: tuple[int, ...] = CHECKPOINTS
    """Log sizes anchored one after the other; the last is also anchored fresh, in one go."""


def _grow(log: TransparencyLog, start: int, end: int) -> None:
    entries = [
        (cid_for(i.to_bytes(8, "big")), hashlib.sha256(i.to_bytes(8, "big")).digest())
        for i in range(start, end)
    ]
    for i in range(0, len(entries), 20_000):
        log.append_batch(entries[i : i + 20_000])


class _Workspace:
    """One log and its own ProvenanceLog (and the other contracts) on the shared anvil."""

    def __init__(self, work: Path, rpc_url: str) -> None:
        work.mkdir(parents=True)
        self.db: Database = open_workspace_database(f"sqlite:///{work / 'catalog.db'}")
        self.log = TransparencyLog(self.db)
        self.blobs = LocalBlobStore(work / "blobs")
        self.chain = ChainClient(rpc_url, ANVIL_DEV_KEY, self.db, Deployments(work / "deployments.json"))
        deploy_all(self.chain)


def _fresh(ws: _Workspace, signer: Signer, size: int) -> list[Figure]:
    """A log of ``size`` leaves anchored for the first time: its whole checkpoint in one transaction."""
    _grow(ws.log, 0, size)
    gas = anchor_log(ws.chain, ws.log, signer).gas_used or 0
    note = f"fresh checkpoint 0→{size}: one anchor transaction of {gas} gas (nothing anchored before)"
    return [
        Figure(f"anchor_gas_fresh_{size}", gas, "gas", note=note),
        Figure(f"anchor_gas_per_asset_fresh_{size}", gas / size, "gas/asset", 1.0, "<=", note),
    ]


def _incremental(ws: _Workspace, signer: Signer, sizes: tuple[int, ...]) -> list[Figure]:
    figures: list[Figure] = []
    previous = 0
    for size in sizes:
        _grow(ws.log, previous, size)
        gas = anchor_log(ws.chain, ws.log, signer).gas_used or 0
        grown = size - previous
        note = f"anchor {previous}→{size}: {gas} gas for {grown} new assets (consistency proof included)"
        figures.append(Figure(f"anchor_gas_{size}", gas, "gas", note=note))
        figures.append(Figure(f"anchor_gas_per_asset_{size}", gas / grown, "gas/asset", note=note))
        previous = size
    cid = cid_for((sizes[-1] // 2).to_bytes(8, "big"))
    reg = register_asset(ws.chain, ws.log, Catalog(ws.db), cid, blobs=ws.blobs)
    note = f"ERC-721 mint after an on-chain inclusion proof in a {sizes[-1]}-leaf tree"
    figures.append(Figure("lazy_registration_gas", reg.gas_used or 0, "gas", note=note))
    return figures


def measure(work: Path, sizes: Sizes) -> list[Figure]:
    keys = KeyStore(work / "keys")
    keys.init("bench", password="bench-password")
    signer = keys.signer("bench-password")
    node = AnvilNode(work / "chain")
    info = node.start()
    spaces: list[_Workspace] = []
    try:
        spaces.append(_Workspace(work / "fresh", info.rpc_url))
        figures = _fresh(spaces[-1], signer, sizes.checkpoints[-1])
        spaces.append(_Workspace(work / "growing", info.rpc_url))
        return figures + _incremental(spaces[-1], signer, sizes.checkpoints)
    finally:
        node.stop()
        for ws in spaces:
            ws.db.dispose()


def run(work: Path) -> list[Figure]:
    return measure(work, Sizes())
