"""Chain client over web3.py: local signing, nonce management, journaled sends, named errors.

Transactions are always signed locally with the configured key (never ``eth_sendTransaction``),
so the same code works on the embedded anvil node and on any JSON-RPC endpoint. Every send goes
through the write-ahead :class:`~mintloom.ledger.journal.Journal`; opening a client reconciles
whatever a crashed process left pending. Reverts are decoded into the Solidity custom error's
name and arguments (:class:`~mintloom.errors.ContractError`).

Crash rules: every write has an *intent* (what it means); a rerun that finds a journal entry of
the same intent reads its outcome back instead of sending again. Opening a client replays, from
the journal's signed bytes and in their order, transactions a node lost with its last blocks; a
chain that cannot be brought back to the journal's history raises
:class:`~mintloom.errors.ChainResetError` and nothing is redeployed until `mintloom chain reset`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
)
from web3.logs import DISCARD

from mintloom.errors import (
    ChainResetError,
    ContractError,
    ContractsOutdatedError,
    FeeCapError,
    LedgerError,
    NotDeployedError,
)
from mintloom.faults import crash_point
from mintloom.ledger.journal import (
    CONFIRMED,
    FAILED,
    PENDING,
    REPLACED,
    IntentJournaled,
    Journal,
    JournalEntry,
)
from mintloom.ledger.logpages import DEFAULT_PAGE_BLOCKS
from mintloom.ledger.reader import ChainReader, Deployments
from mintloom.logs import get_logger, public_url, scrub_url
from mintloom.store.db import Database
from mintloom.types import Address, TxHash

log = get_logger(__name__)

SEND_TRIES = 5
"""Fresh nonces a write is signed at before giving up, when other senders keep taking them."""

NONCE_TAKEN = ("nonce too low", "replacement transaction underpriced", "already used")
"""Node answers meaning another transaction holds the nonce (geth, anvil, erigon wording)."""

RESET_HINT = (
    "if this chain was really wiped, run `mintloom chain reset` (forgets this chain's deployments "
    "and journal) and then `mintloom deploy`; otherwise point mintloom back at the chain it used"
)


def intent_key(kind: str, target: str, fn: str, args: Any, value: int = 0) -> str:
    """A stable hash of one logical write: the same kind, target, function, arguments and value
    mean the same write, whichever process or nonce sends it."""
    body = json.dumps([kind, target.lower(), fn, args, value], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class TxResult:
    tx_hash: TxHash
    block: int
    gas_used: int
    contract_address: Address | None = None
    resumed: bool = False
    """Sent by an interrupted earlier run and reported now instead of being sent again."""


class ChainClient(ChainReader):
    """The chain over web3.py with a local key: journaled, nonce-managed sends."""

    def __init__(
        self,
        rpc_url: str,
        private_key: str | bytes,
        db: Database,
        deployments: Deployments,
        *,
        timeout: float = 60.0,
        reconcile: bool = True,
        log_page: int = DEFAULT_PAGE_BLOCKS,
        max_fee_wei: int | None = None,
    ) -> None:
        super().__init__(rpc_url, log_page=log_page)
        self.account: LocalAccount = Account.from_key(private_key)
        self.max_fee_wei = max_fee_wei
        """EIP-1559 ``maxFeePerGas`` cap (None: uncapped); see :meth:`_fees`."""
        self.journal = Journal(db)
        self.deployments = deployments
        self.timeout = timeout
        self._nonce: int | None = None
        if reconcile:
            self.recover()
            self.reconcile()

    def recover(self) -> list[str]:
        """Bring the chain back to the journal's history: replay, in sending order, transactions
        it lost (a node killed before persisting its last blocks), then check every recorded
        deployment still has code. Returns the replayed hashes; raises
        :class:`ChainResetError` when the chain is not the one the journal wrote to."""
        entries = self.journal.replayable(self.chain_id)
        lost: list[JournalEntry] = []
        for sender in sorted({e.sender for e in entries}):
            lost.extend(self._lost(sender, [e for e in entries if e.sender == sender]))
        for entry in _sending_order(lost):
            self._replay(entry)
        if lost:
            self._nonce = None
        self._check_deployments()
        return [e.tx_hash for e in lost]

    def _mined_nonce(self, sender: str) -> int:
        try:
            return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(sender), "latest"))
        except Exception as exc:
            where, detail = public_url(self.rpc_url), scrub_url(str(exc), self.rpc_url)
            raise LedgerError(f"cannot read the account nonce at {where}: {detail}") from exc

    def _lost(self, sender: str, rows: list[JournalEntry]) -> list[JournalEntry]:
        """``sender``'s journaled transactions the chain lost, checked to be replayable."""
        mined = self._mined_nonce(sender)
        kept = [e for e in rows if e.nonce < mined and e.status != PENDING]
        if kept:
            last = max(kept, key=lambda e: e.nonce)
            receipt = self._receipt(last.tx_hash)
            if receipt is not None:  # a replay refused at an earlier open is refused again
                self._check_outcome(last, receipt, "checking")
            else:
                raise ChainResetError(
                    f"chain {self.chain_id} at {public_url(self.rpc_url)} has another transaction at nonce "
                    f"{last.nonce} of {sender} than the journaled {last.kind} {last.tx_hash}: "
                    "it is not the chain this workspace wrote to",
                    hint=RESET_HINT,
                )
        behind = sorted((e for e in rows if e.nonce >= mined), key=lambda e: e.nonce)
        if all(e.status == PENDING for e in behind):
            return []  # nothing settled was lost: reconcile() handles what is pending
        nonces = [e.nonce for e in behind]
        if nonces != list(range(mined, mined + len(nonces))):
            raise ChainResetError(
                f"chain {self.chain_id} at {public_url(self.rpc_url)} lost transactions of {sender} that the "
                f"journal cannot replay (account nonce {mined}, journal resumes at {nonces[0]})",
                hint=RESET_HINT,
            )
        return behind

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return None
        except Exception as exc:
            where, detail = public_url(self.rpc_url), scrub_url(str(exc), self.rpc_url)
            raise LedgerError(f"cannot read the receipt of {tx_hash} at {where}: {detail}") from exc

    def _replay(self, entry: JournalEntry) -> None:
        """Rebroadcast one lost transaction's signed bytes and wait until it is mined again with
        the outcome it had: the same status and, when the journal kept them (entries confirmed
        before outcomes were kept fall back to the status), the same event logs. Another
        sender's transaction that landed first can make a replayed ``createSplit`` succeed with
        another split id: its logs differ, and the journal is left as it was."""
        log.warning("replaying a transaction the node lost", extra={"tx": entry.tx_hash, "kind": entry.kind})
        try:
            self.w3.eth.send_raw_transaction(entry.raw_tx)
        except Exception as exc:
            if not any(w in str(exc).lower() for w in ("already known", "already imported")):
                raise ChainResetError(
                    f"the node refused to replay {entry.kind} {entry.tx_hash}: {exc}", hint=RESET_HINT
                ) from exc
        receipt = self._wait_receipt(entry.tx_hash, entry.kind)
        failed = int(receipt["status"]) != 1
        if entry.status != PENDING and failed != (entry.status == FAILED):
            raise ChainResetError(
                f"replaying {entry.kind} {entry.tx_hash} on chain {self.chain_id} did not give the "
                f"journaled outcome ({entry.status}): the chain's history differs",
                hint=RESET_HINT,
            )
        self._check_outcome(entry, receipt, "replaying")
        with contextlib.suppress(ContractError):  # journaled as failed, and failed again
            self._settle(entry.tx_hash, entry.kind, receipt)

    def _check_outcome(self, entry: JournalEntry, receipt: Any, doing: str) -> None:
        """Refuse a mined ``entry`` whose event logs differ from those journaled at confirmation."""
        if entry.status != CONFIRMED or entry.outcome is None:
            return  # pending, failed, or journaled before outcomes were kept: the status decides
        got = logs_hash(receipt)
        if got != entry.outcome:
            raise ChainResetError(
                f"{doing} {entry.kind} {entry.tx_hash} on chain {self.chain_id} found other events than "
                f"journaled ({len(receipt['logs'])} logs hashing to {got[:16]}…, journaled "
                f"{entry.outcome[:16]}…): "
                "a transaction the journal does not know landed before it, so the ids it handed out "
                "(a split id, say) differ from those recorded",
                hint=RESET_HINT,
            )

    def _check_deployments(self) -> None:
        for name, address in sorted(self.deployments.get(self.chain_id).items()):
            if not self.has_code(address):
                raise ChainResetError(
                    f"{name} recorded at {address} has no code on chain {self.chain_id} at "
                    f"{public_url(self.rpc_url)}, and the journal cannot restore it",
                    hint=RESET_HINT,
                )

    def reset(self) -> int:
        """Forget this chain's deployments and orphan its journal entries (their nonces are freed
        for the new chain): the explicit answer to :class:`ChainResetError`. Returns how many
        journal entries were orphaned."""
        dropped = self.journal.orphan(self.chain_id)
        self.deployments.forget(self.chain_id)
        self._nonce = None
        log.warning(
            "chain reset: deployments forgotten",
            extra={"chain_id": self.chain_id, "journal_entries": dropped},
        )
        return dropped

    # -- identity ---------------------------------------------------------------------------------
    def _deployments(self) -> Deployments:
        return self.deployments

    @property
    def address(self) -> Address:
        return Address(self.account.address)

    def addresses(self) -> dict[str, str]:
        """Addresses recorded for this chain in the workspace (over any learned in memory)."""
        return {**super().addresses(), **self.deployments.get(self.chain_id)}

    def address_of(self, name: str) -> Address:
        addr = self.addresses().get(name)
        if addr is None:
            raise NotDeployedError(
                f"{name} is not deployed on chain {self.chain_id}", hint="run `mintloom deploy`"
            )
        return Address(addr)

    # -- writes -----------------------------------------------------------------------------------
    def _fees(self, kind: str) -> dict[str, int]:
        """EIP-1559 fees: room for the base fee to double, never past ``max_fee_wei``; a chain
        asking more than the cap right now is refused by name (nothing is signed)."""
        block = self.w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas") or 0)
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except Web3Exception:
            tip = 1_000_000_000
        cap = self.max_fee_wei
        if cap is not None and base + tip > cap:
            raise FeeCapError(
                f"{kind} not sent: the chain asks {_gwei(base + tip)} gwei per gas (base fee "
                f"{_gwei(base)} + tip {_gwei(tip)}), above the cap of {_gwei(cap)} gwei",
                hint="raise chain.max_fee_gwei (MINTLOOM_CHAIN__MAX_FEE_GWEI) or retry when fees fall",
            )
        max_fee = 2 * base + tip if cap is None else min(2 * base + tip, cap)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(tip, max_fee)}

    def _pending_nonce(self) -> int:
        """Read from the node before every send: another client of the workspace (`mintloom serve`
        beside a CLI command) may have used the account since."""
        pending = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))
        return pending if self._nonce is None else max(self._nonce, pending)

    def _journal_signed(
        self,
        tx: dict[str, Any],
        kind: str,
        payload: dict[str, Any],
        intent: str | None,
        *,
        least: int,
        repeatable: bool,
    ) -> JournalEntry:
        """Sign ``tx`` at the journal's next free nonce (at least ``least``) and journal it."""

        def sign(nonce: int) -> tuple[str, bytes]:
            signed = self.account.sign_transaction({**tx, "nonce": nonce})
            return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

        return self.journal.record_signed(
            chain_id=self.chain_id,
            kind=kind,
            payload=payload,
            sender=self.account.address,
            least_nonce=least,
            sign=sign,
            intent=intent,
            repeatable=repeatable,
        )

    def _send(
        self, tx: dict[str, Any], kind: str, payload: dict[str, Any], intent: str | None, *, repeatable: bool
    ) -> TxResult:
        try:
            tx = {**tx, "chainId": self.chain_id, **self._fees(kind)}
        except OSError as exc:
            raise LedgerError(
                f"cannot reach the chain at {public_url(self.rpc_url)} to send {kind}: {exc}"
            ) from exc
        point = kind.split(":", maxsplit=1)[0].replace(".", "-")
        for _ in range(SEND_TRIES):
            try:
                entry = self._journal_signed(
                    tx, kind, payload, intent, least=self._least(kind), repeatable=repeatable
                )
            except IntentJournaled as twin:
                return self._twin_outcome(intent, kind, twin)
            self._nonce = entry.nonce + 1
            crash_point(f"tx-journaled-{point}")
            if self._broadcast(entry, kind):
                break
        else:
            raise LedgerError(
                f"{kind} not sent: {SEND_TRIES} nonces in a row were taken by another sender of this account",
                hint="another host sends with this key: share one catalog, or give each host its own key",
            )
        tx_hash = entry.tx_hash
        crash_point(f"tx-sent-{point}")
        result = self._await(tx_hash, kind)
        crash_point(f"tx-confirmed-{point}")
        if repeatable:
            self.journal.mark_delivered(tx_hash)
        return result

    def _twin_outcome(self, intent: str | None, kind: str, twin: IntentJournaled) -> TxResult:
        """The outcome of the same one-time write another client of the catalog journaled first."""
        log.info("another writer sent this first: reading its outcome", extra={"tx": twin.tx_hash})
        done = self._earlier(intent)
        if done is None:
            raise LedgerError(
                f"{kind}: the same write {twin.tx_hash} by another client of this catalog did not confirm",
                hint="run `mintloom chain reconcile`, then retry",
            ) from twin
        return done

    def _least(self, kind: str) -> int:
        try:
            return self._pending_nonce()
        except OSError as exc:
            raise LedgerError(
                f"cannot reach the chain at {public_url(self.rpc_url)} to send {kind}: {exc}"
            ) from exc

    def _broadcast(self, entry: JournalEntry, kind: str) -> bool:
        """Send the journaled bytes. True once the node has them (from this call, or from another
        writer of the catalog that reconciled them first); False when the nonce turned out to be
        another transaction's (``nonce too low``, ``replacement transaction underpriced``: a sender
        of this account outside the catalog): the entry is marked replaced and the caller signs
        again at a fresh nonce, so the write is sent once and never at a taken nonce."""
        try:
            self.w3.eth.send_raw_transaction(entry.raw_tx)
            return True
        except Exception as exc:
            self._nonce = None  # resync from the chain next time
            if self._known(entry.tx_hash):
                return True
            reason = str(exc).lower()
            if any(taken in reason for taken in NONCE_TAKEN):
                log.info("nonce taken by another sender: signing again", extra={"tx": entry.tx_hash})
                self.journal.finish(entry.tx_hash, REPLACED, error=f"nonce {entry.nonce} taken: {exc}")
                return False
            # The intent stays pending: reconcile() will find it mined, rebroadcast or mark it replaced.
            raise LedgerError(f"sending {kind} failed: {exc}", hint="run `mintloom chain reconcile`") from exc

    def _known(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(HexStr(tx_hash))
        except (TransactionNotFound, Web3Exception, OSError):
            return False
        return True

    def _undelivered(self, intent: str | None) -> TxResult | None:
        """For a repeatable write (a purchase): the identical one a crashed process sent and never
        had the outcome of, settled now and reported as this write's result; None when every
        earlier identical write reached its caller (then this one is a deliberate new write)."""
        if intent is None:
            return None
        while (entry := self.journal.undelivered(self.chain_id, self.account.address, intent)) is not None:
            if entry.status == PENDING:
                self._reconcile_one(entry.tx_hash, entry.kind, entry.nonce, entry.raw_tx)
                self._nonce = None
            settled = self.journal.get(entry.tx_hash)
            if settled is None or settled.status == PENDING:
                raise LedgerError(
                    f"{entry.kind} {entry.tx_hash} from an interrupted run is still pending",
                    hint="run `mintloom chain reconcile` later; it is not sent again",
                )
            self.journal.mark_delivered(entry.tx_hash)
            if settled.status == CONFIRMED:
                log.info(
                    "reporting the write an interrupted run sent",
                    extra={"tx": settled.tx_hash, "kind": settled.kind},
                )
                tx = TxHash(settled.tx_hash)
                return TxResult(tx, settled.block or 0, settled.gas_used or 0, resumed=True)
        return None

    def _earlier(self, intent: str | None) -> TxResult | None:
        """The outcome of an earlier transaction with this intent (a rerun after a crash), settling
        it first if it is still pending; None when there is none or it failed or was replaced."""
        if intent is None:
            return None
        entry = self.journal.by_intent(self.chain_id, self.account.address, intent)
        if entry is not None and entry.status == PENDING:
            self._reconcile_one(entry.tx_hash, entry.kind, entry.nonce, entry.raw_tx)
            self._nonce = None
            entry = self.journal.get(entry.tx_hash)
        if entry is None or entry.status != CONFIRMED:
            return None
        log.info(
            "already sent: reading the journaled outcome", extra={"tx": entry.tx_hash, "kind": entry.kind}
        )
        address = Address(entry.contract_address) if entry.contract_address else None
        return TxResult(TxHash(entry.tx_hash), entry.block or 0, entry.gas_used or 0, address)

    def _await(self, tx_hash: str, kind: str) -> TxResult:
        return self._settle(tx_hash, kind, self._wait_receipt(tx_hash, kind))

    def _wait_receipt(self, tx_hash: str, kind: str) -> Any:
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexStr(tx_hash), timeout=self.timeout, poll_latency=0.05
            )
        except TimeExhausted as exc:
            raise LedgerError(
                f"{kind} {tx_hash} not mined within {self.timeout:.0f}s; it stays in the journal",
                hint="run `mintloom chain reconcile` later",
            ) from exc
        except OSError as exc:  # requests' connection errors: the node went away
            raise LedgerError(
                f"lost the chain at {public_url(self.rpc_url)} while waiting for {kind} {tx_hash}: {exc}",
                hint="it stays in the journal: the next command replays or confirms it",
            ) from exc
        return receipt

    def _settle(self, tx_hash: str, kind: str, receipt: Any) -> TxResult:
        block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
        contract_address = receipt.get("contractAddress")
        if int(receipt["status"]) != 1:
            self.journal.finish(tx_hash, FAILED, block=block, gas_used=gas, error="reverted")
            raise ContractError(f"{kind} {tx_hash} reverted on chain (block {block})")
        self.journal.finish(
            tx_hash,
            CONFIRMED,
            block=block,
            gas_used=gas,
            contract_address=contract_address,
            outcome=logs_hash(receipt),
        )
        return TxResult(TxHash(tx_hash), block, gas, Address(contract_address) if contract_address else None)

    def transact(
        self,
        contract: str,
        fn: str,
        *args: Any,
        value: int = 0,
        kind: str | None = None,
        payload: dict[str, Any] | None = None,
        once: bool | None = None,
    ) -> TxResult:
        """Estimate (decoding any revert by name), then sign, journal, send and await ``fn(*args)``.

        A write named by a ``kind`` is sent at most once (``once``, default: whether ``kind`` is
        given): if the journal already holds a confirmed transaction of the same intent, its
        result is returned and nothing is sent. Unnamed writes are those the contract makes
        idempotent itself (a duplicate registration reverts by name); writes meant to repeat
        with the same arguments (a claim, a second purchase) pass ``once=False`` with a ``kind``:
        an identical one that an interrupted run sent (pending, or confirmed but never reported
        to its caller) is settled and reported instead of being sent again."""
        call = self.contract(contract).functions[fn](*args)
        payload = payload or {"contract": contract, "fn": fn, "args": _jsonable(args)}
        what = f"{contract}.{fn}"
        target = self.address_of(contract)
        intent = intent_key(kind or what, target, fn, _jsonable(args), value) if kind or once else None
        return self._transact_call(call, what, value, kind, payload, intent=intent, once=_once(once, kind))

    def transact_at(
        self,
        address: str,
        abi: list[dict[str, Any]],
        fn: str,
        *args: Any,
        value: int = 0,
        kind: str | None = None,
        once: bool | None = None,
    ) -> TxResult:
        """Like :meth:`transact` for a contract mintloom did not deploy (an ERC-20, say)."""
        c = self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        payload = {"contract": address, "fn": fn, "args": _jsonable(args)}
        what = f"{address}.{fn}"
        intent = intent_key(kind or what, address, fn, _jsonable(args), value) if kind or once else None
        call = c.functions[fn](*args)
        return self._transact_call(call, what, value, kind, payload, intent=intent, once=_once(once, kind))

    def _transact_call(
        self,
        call: Any,
        what: str,
        value: int,
        kind: str | None,
        payload: dict[str, Any],
        *,
        intent: str | None,
        once: bool,
    ) -> TxResult:
        done = self._earlier(intent) if once else self._undelivered(intent)
        if done is not None:
            return done
        try:
            # against the block it will be mined in: a vote checkpoint written in the latest block
            # is updated in place there, but pushed anew (more gas) in the next (ERC20Votes)
            gas = int(call.estimate_gas({"from": self.account.address, "value": value}, "pending"))
            tx = call.build_transaction(_draft(self.account.address, gas, value))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._translate(exc, what) from exc
        except (Web3Exception, OSError) as exc:
            raise LedgerError(f"{what} could not be prepared: {exc}") from exc
        return self._send(tx, kind or what, payload, intent, repeatable=not once and intent is not None)

    def events(self, contract: str, event: str, tx_hash: str) -> list[Any]:
        """``contract``'s ``event`` logs emitted by the mined transaction ``tx_hash``."""
        receipt = self._receipt(tx_hash)
        if receipt is None:
            raise LedgerError(
                f"{tx_hash} is not mined on chain {self.chain_id}", hint="run `mintloom chain reconcile`"
            )
        c = self.contract(contract)
        decoded: Iterable[Any] = c.events[event]().process_receipt(receipt, errors=DISCARD)
        return [e for e in decoded if str(e["address"]).lower() == str(c.address).lower()]

    def ensure_deployed(self, name: str, *args: Any) -> Address:
        """The recorded address of ``name`` on this chain, else a new deployment. A recorded
        contract whose code is gone is refused (:class:`ChainResetError`), never redeployed."""
        known = self.deployments.get(self.chain_id).get(name)
        if known is None:
            return self.deploy(name, *args)
        if not self.has_code(known):
            raise ChainResetError(
                f"{name} recorded at {known} has no code on chain {self.chain_id}", hint=RESET_HINT
            )
        if self.deployments.code_of(self.chain_id, name) != _code_hash(self.artifact(name).bytecode):
            raise ContractsOutdatedError(
                f"{name} at {known} on chain {self.chain_id} was deployed from other code than this "
                "mintloom's contracts (they changed in an upgrade)",
                hint="`mintloom deploy --reset` deploys today's contracts on this chain and publishes anew",
            )
        return Address(known)

    def deploy(self, name: str, *args: Any) -> Address:
        """Deploy ``name`` and record its address for this chain id (once: a deployment the
        journal already holds, confirmed, is recorded instead of sent again)."""
        art = self.artifact(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        code = _code_hash(art.bytecode)
        intent = intent_key(f"deploy:{name}", code, "constructor", _jsonable(args))
        result = self._earlier(intent)
        if result is None:
            try:
                ctor = factory.constructor(*args)
                gas = int(ctor.estimate_gas({"from": self.account.address}))
                tx = ctor.build_transaction(_draft(self.account.address, gas, 0))
            except (ContractCustomError, ContractLogicError) as exc:
                raise self._translate(exc, f"deploy {name}") from exc
            payload = {"contract": name, "args": _jsonable(args)}
            result = self._send(tx, f"deploy:{name}", payload, intent, repeatable=False)
        if result.contract_address is None:
            raise LedgerError(f"deploying {name} produced no contract address")
        self.deployments.set_code(self.chain_id, name, code)  # first: an address always has its code
        self.deployments.set_block(self.chain_id, name, result.block)
        self.deployments.set(self.chain_id, name, result.contract_address)
        return result.contract_address

    # -- recovery ---------------------------------------------------------------------------------
    def reconcile(self) -> list[tuple[str, str]]:
        """Settle every journal entry left pending by an earlier process; returns (tx hash, outcome)."""
        outcomes: list[tuple[str, str]] = []
        for entry in self.journal.pending(self.chain_id, self.account.address):
            outcomes.append(
                (entry.tx_hash, self._reconcile_one(entry.tx_hash, entry.kind, entry.nonce, entry.raw_tx))
            )
        if outcomes:
            self._nonce = None
        return outcomes

    def _reconcile_one(self, tx_hash: str, kind: str, nonce: int, raw: bytes) -> str:
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            receipt = None
        if receipt is not None:
            try:
                self._settle(tx_hash, kind, receipt)
                return CONFIRMED
            except ContractError:
                return FAILED
        try:
            self.w3.eth.get_transaction(HexStr(tx_hash))
            known = True
        except TransactionNotFound:
            known = False
        if not known:
            mined_nonce = int(self.w3.eth.get_transaction_count(self.account.address, "latest"))
            if mined_nonce > nonce:  # this nonce was used by another transaction: ours can never land
                self.journal.finish(tx_hash, REPLACED, error=f"nonce {nonce} used by another transaction")
                return REPLACED
            log.info("rebroadcasting journaled transaction", extra={"tx": tx_hash, "kind": kind})
            try:
                self.w3.eth.send_raw_transaction(raw)
            except Exception as exc:
                raise LedgerError(f"rebroadcasting {kind} {tx_hash} failed: {exc}") from exc
        try:
            self._await(tx_hash, kind)
        except ContractError:
            return FAILED
        return CONFIRMED


LOCK_WAIT_SECONDS = 600.0
"""How long a chain write waits for another process's lock on the same workspace: a deploy on a
slow public chain takes minutes; longer is a holder that is stuck."""


@contextlib.contextmanager
def workspace_lock(
    chain: ChainClient, name: str, file_name: str, wait: float = LOCK_WAIT_SECONDS
) -> Iterator[None]:
    """Hold the lock ``name`` of this workspace's chain state: a file lock ``file_name`` beside
    ``deployments.json`` (processes on this host; threads too, each opens the file itself) and the
    catalog's row lock of the same name (PostgreSQL: hosts sharing the catalog). A holder that
    keeps it past ``wait`` seconds (a process stopped in a debugger, a chain that never answers)
    is a :class:`LedgerError` naming the lock, not a command that hangs."""
    path = chain.deployments.path.with_name(file_name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.open("a")
    except OSError as exc:
        raise LedgerError(f"cannot open the lock file {path}: {exc}") from exc
    with lock:
        _flock(lock.fileno(), path, wait)
        with chain.journal.locked(name, wait):
            yield


def _flock(fd: int, path: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = 0.01
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LedgerError(
                    f"another mintloom process has held {path.name} for over {wait:g} s",
                    hint=f"wait for it to finish, or stop it; the lock is {path}",
                ) from None
            time.sleep(pause)
            pause = min(0.25, pause * 2)


def logs_hash(receipt: Any) -> str:
    """A hash of a receipt's event logs (emitter, topics, data, in order): what the transaction
    handed out (a split id, a token id) and what a replay of it must hand out again."""
    logs = [
        [str(g["address"]).lower(), [_hex(t) for t in g["topics"]], _hex(g["data"])] for g in receipt["logs"]
    ]
    return hashlib.sha256(json.dumps(logs).encode()).hexdigest()


def _hex(value: Any) -> str:
    return bytes(value).hex() if isinstance(value, bytes) else str(value).lower().removeprefix("0x")


def _once(once: bool | None, kind: str | None) -> bool:
    return kind is not None if once is None else once


def _sending_order(entries: list[JournalEntry]) -> list[JournalEntry]:
    """Entries in journal order, except that each sender's go in nonce order (a node mines a
    nonce only after the previous one)."""
    slots = sorted(entries, key=lambda e: e.id)
    queues: dict[str, list[JournalEntry]] = {}
    for e in sorted(entries, key=lambda e: e.nonce, reverse=True):
        queues.setdefault(e.sender, []).append(e)
    return [queues[e.sender].pop() for e in slots]


def _code_hash(bytecode: str) -> str:
    """What a deployment records of its creation code, to tell an upgraded contract apart."""
    return hashlib.sha256(bytecode.encode()).hexdigest()


def _gwei(wei: int) -> str:
    return f"{wei / 10**9:.3f}"


def _draft(sender: str, gas_estimate: int, value: int) -> Any:
    """Transaction fields for build_transaction; nonce and fees are filled in by ``_send``."""
    return {
        "from": sender,
        "value": value,
        "gas": gas_estimate * 12 // 10,
        "nonce": 0,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
    }


def _jsonable(args: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, bytes):
            out.append("0x" + a.hex())
        elif isinstance(a, list | tuple):
            out.append(_jsonable(tuple(a)))
        else:
            out.append(a)
    return out
