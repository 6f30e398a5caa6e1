"""Anchor the transparency log's checkpoints in ``ProvenanceLog``.

``anchor_checkpoint`` anchors a signed checkpoint: it reads the latest anchored checkpoint on
chain, proves consistency from it and sends ``anchor``, then writes the transaction into the
receipts the checkpoint covers that are not anchored yet (an anchored receipt is never written
again). It is idempotent and crash-safe: if the checkpoint is already on chain (a previous run
crashed after sending, or the journal reconciled it) the anchoring transaction is found from the
contract's ``CheckpointAnchored`` event without sending anything again. ``anchor_log`` first
takes the log's latest signed checkpoint, signing a new one only if the log grew past it.

Nothing here deploys: a chain without ``ProvenanceLog`` is refused (:class:`NotDeployedError`);
deploying is its own step (`mintloom deploy`, ``Studio.contracts()``, the pipeline's deploy stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mintloom.errors import ContractError, LedgerError
from mintloom.ledger.client import ChainClient
from mintloom.provenance.keys import Signer
from mintloom.provenance.log import SignedCheckpoint, TransparencyLog
from mintloom.types import TxHash

CONTRACT = "ProvenanceLog"
ANCHOR_TRIES = 5


@dataclass(frozen=True)
class OnChainCheckpoint:
    size: int
    root: bytes
    timestamp: int
    block: int


@dataclass(frozen=True)
class AnchorResult:
    size: int
    previous_size: int
    root: str
    tx_hash: TxHash | None
    block: int | None
    gas_used: int | None
    receipts_updated: int
    already_anchored: bool


def ensure_provenance_log(chain: ChainClient) -> str:
    """Deploy ``ProvenanceLog`` (sender = admin and anchorer) if the workspace has none on this
    chain yet; its address. Only the deploy step calls this."""
    return chain.ensure_deployed(CONTRACT, chain.address, chain.address)


def latest_on_chain(chain: ChainClient) -> OnChainCheckpoint:
    size, ts, block, root = chain.call(CONTRACT, "latest")
    return OnChainCheckpoint(int(size), bytes(root), int(ts), int(block))


def _anchoring_event(chain: ChainClient, size: int) -> tuple[str, int]:
    """(tx hash, block) of the event that anchored ``size``."""
    try:
        entry: Any = chain.anchoring_log(size)
    except LedgerError:
        raise
    except Exception as exc:
        raise LedgerError(f"cannot read CheckpointAnchored events: {exc}") from exc
    if entry is None:
        raise LedgerError(f"checkpoint {size} is anchored but its CheckpointAnchored event was not found")
    return "0x" + bytes(entry["transactionHash"]).hex(), int(entry["blockNumber"])


def anchor_log(chain: ChainClient, tlog: TransparencyLog, signer: Signer) -> AnchorResult:
    """Anchor the log's current state: its latest checkpoint if that covers the log, else a new
    one (its receipts are then written once, already anchored)."""
    tlog.refresh()
    if tlog.size == 0:
        raise LedgerError("the log is empty: nothing to anchor", hint="run a campaign first")
    cp = tlog.latest_checkpoint()
    if cp is None or cp.size < tlog.size:
        cp = tlog.checkpoint(signer)
    return anchor_checkpoint(chain, tlog, cp)


def anchor_checkpoint(chain: ChainClient, tlog: TransparencyLog, cp: SignedCheckpoint) -> AnchorResult:
    """Anchor ``cp`` (a checkpoint of ``tlog``) unless it, or a later checkpoint covering it, is
    on chain already, and write the transaction into every covered receipt that does not name it
    yet. Writers sharing the catalog (several campaigns' runs) anchor in turn, each proving
    consistency from what is on chain when it sends; one that lost a race re-reads and retries."""
    address = chain.address_of(CONTRACT)  # NotDeployedError: deploying is not this step's job
    with chain.journal.locked(f"anchor:{chain.chain_id}:{address.lower()}"):
        for _ in range(ANCHOR_TRIES):
            tlog.refresh()
            on_chain = latest_on_chain(chain)
            _check_same_history(tlog, on_chain, address)
            if on_chain.size >= cp.size:
                return _covered(chain, tlog, on_chain.size, address)
            try:
                return _send_anchor(chain, tlog, cp, on_chain.size, address)
            except ContractError:
                if latest_on_chain(chain).size == on_chain.size:
                    raise  # refused for another reason than a concurrent anchor
    raise LedgerError(
        f"checkpoint {cp.size} not anchored: other writers anchored first {ANCHOR_TRIES} times",
        hint="rerun: the next try proves consistency from the newest anchor",
    )


def _covered(chain: ChainClient, tlog: TransparencyLog, size: int, address: str) -> AnchorResult:
    """The anchored checkpoint ``size`` covers the one asked for (this run's, or a later one a
    concurrent run anchored): record it into the receipts, send nothing."""
    tx, block = _anchoring_event(chain, size)
    updated = tlog.record_anchor(size, chain.chain_id, address, tx, block)
    root = tlog.checkpoint_at(size).root
    return AnchorResult(size, size, root, TxHash(tx), block, None, updated, True)


def _send_anchor(
    chain: ChainClient, tlog: TransparencyLog, cp: SignedCheckpoint, previous: int, address: str
) -> AnchorResult:
    proof = tlog.consistency_proof(previous, cp.size) if previous > 0 else []
    result = chain.transact(
        CONTRACT,
        "anchor",
        cp.size,
        bytes.fromhex(cp.root),
        proof,
        kind=f"anchor:{cp.size}",
        payload={"size": cp.size, "root": cp.root, "previous": previous},
    )
    updated = tlog.record_anchor(cp.size, chain.chain_id, address, result.tx_hash, result.block)
    return AnchorResult(
        cp.size, previous, cp.root, result.tx_hash, result.block, result.gas_used, updated, False
    )


def _check_same_history(tlog: TransparencyLog, on_chain: OnChainCheckpoint, address: str) -> None:
    """Refuse a contract that anchors another log, or a local log that forked from it."""
    if on_chain.size > tlog.size:
        raise LedgerError(
            f"the contract at {address} has a checkpoint of size {on_chain.size}, larger than this log "
            f"({tlog.size} leaves): it anchors another log",
        )
    if on_chain.size > 0 and tlog.root(on_chain.size) != on_chain.root:
        raise LedgerError(
            f"this log's root at size {on_chain.size} differs from the one anchored at {address}: "
            "the local log is not the anchored history (forked or rewritten)",
        )
