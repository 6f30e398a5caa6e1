"""Chain client over web3.py: local signing, nonce management, journaled sends, named errors.

Transactions are always signed locally with the configured key (never ``eth_sendTransaction``),
so the same code works on the embedded anvil node and on any JSON-RPC endpoint. Every send goes
through the write-ahead :class:`~mintloom.ledger.journal.Journal`; opening a client reconciles
whatever a crashed process left pending. Reverts are decoded into the Solidity custom error's
name and arguments (:class:`~mintloom.errors.ContractError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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

from mintloom.errors import ContractError, LedgerError
from mintloom.ledger.journal import CONFIRMED, FAILED, REPLACED, Journal
from mintloom.ledger.reader import ChainReader, Deployments
from mintloom.logs import get_logger, public_url, scrub_url
from mintloom.store.db import Database
from mintloom.types import Address, TxHash

log = get_logger(__name__)


@dataclass(frozen=True)
class TxResult:
    tx_hash: TxHash
    block: int
    gas_used: int
    contract_address: Address | None = None


class Chain(Protocol):
    """What the rest of mintloom needs from a chain backend."""

    @property
    def chain_id(self) -> int: ...

    @property
    def address(self) -> Address: ...

    def call(self, contract: str, fn: str, *args: Any) -> Any: ...

    def transact(
        self, contract: str, fn: str, *args: Any, value: int = 0, kind: str | None = None
    ) -> TxResult: ...

    def deploy(self, name: str, *args: Any) -> Address: ...


class ChainClient(ChainReader):
    """A :class:`Chain` over web3.py with a local key."""

    def __init__(
        self,
        rpc_url: str,
        private_key: str | bytes,
        db: Database,
        deployments: Deployments,
        *,
        timeout: float = 60.0,
        reconcile: bool = True,
    ) -> None:
        super().__init__(rpc_url)
        self.account: LocalAccount = Account.from_key(private_key)
        self.journal = Journal(db)
        self.deployments = deployments
        self.timeout = timeout
        self._nonce: int | None = None
        self._detect_reset()
        if reconcile:
            self.reconcile()

    def _detect_reset(self) -> None:
        """An embedded chain can be reset under the same chain id (its state file deleted). The
        journal then holds confirmed transactions the chain no longer has: the account's nonce is
        behind them. Their deployments are forgotten and the entries orphaned, so nothing points
        at contracts that no longer exist."""
        top = self.journal.max_confirmed_nonce(self._chain_id, self.account.address)
        if top is None:
            return
        try:
            mined = int(self.w3.eth.get_transaction_count(self.account.address, "latest"))
        except Exception as exc:
            where, detail = public_url(self.rpc_url), scrub_url(str(exc), self.rpc_url)
            raise LedgerError(f"cannot read the account nonce at {where}: {detail}") from exc
        if mined <= top:
            dropped = self.journal.orphan(self._chain_id)
            self.deployments.forget(self._chain_id)
            log.warning(
                "chain was reset (its history lost): forgot its deployments",
                extra={"chain_id": self._chain_id, "journal_entries": dropped},
            )

    # -- identity ---------------------------------------------------------------------------------
    @property
    def address(self) -> Address:
        return Address(self.account.address)

    def addresses(self) -> dict[str, str]:
        """Addresses recorded for this chain in the workspace (over any learned in memory)."""
        return {**super().addresses(), **self.deployments.get(self.chain_id)}

    def address_of(self, name: str) -> Address:
        addr = self.addresses().get(name)
        if addr is None:
            raise LedgerError(
                f"{name} is not deployed on chain {self.chain_id}", hint="run `mintloom deploy`"
            )
        return Address(addr)

    # -- writes -----------------------------------------------------------------------------------
    def _fees(self) -> dict[str, int]:
        block = self.w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas") or 0)
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except Web3Exception:
            tip = 1_000_000_000
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))
        n = self._nonce
        self._nonce += 1
        return n

    def _send(self, tx: dict[str, Any], kind: str, payload: dict[str, Any]) -> TxResult:
        tx = {**tx, "chainId": self.chain_id, "nonce": self._next_nonce(), **self._fees()}
        signed = self.account.sign_transaction(tx)
        raw = bytes(signed.raw_transaction)
        tx_hash = "0x" + bytes(signed.hash).hex()
        self.journal.record_intent(
            chain_id=self.chain_id, kind=kind, payload=payload, sender=self.account.address,
            nonce=tx["nonce"], tx_hash=tx_hash, raw=raw,
        )  # fmt: skip
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            self._nonce = None  # resync from the chain next time
            # The intent stays pending: reconcile() will find it mined, rebroadcast or mark it replaced.
            raise LedgerError(f"sending {kind} failed: {exc}", hint="run `mintloom chain reconcile`") from exc
        return self._await(tx_hash, kind)

    def _await(self, tx_hash: str, kind: str) -> TxResult:
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexStr(tx_hash), timeout=self.timeout, poll_latency=0.05
            )
        except TimeExhausted as exc:
            raise LedgerError(
                f"{kind} {tx_hash} not mined within {self.timeout:.0f}s; it stays in the journal",
                hint="run `mintloom chain reconcile` later",
            ) from exc
        return self._settle(tx_hash, kind, receipt)

    def _settle(self, tx_hash: str, kind: str, receipt: Any) -> TxResult:
        block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
        contract_address = receipt.get("contractAddress")
        if int(receipt["status"]) != 1:
            self.journal.finish(tx_hash, FAILED, block=block, gas_used=gas, error="reverted")
            raise ContractError(f"{kind} {tx_hash} reverted on chain (block {block})")
        self.journal.finish(tx_hash, CONFIRMED, block=block, gas_used=gas, contract_address=contract_address)
        return TxResult(TxHash(tx_hash), block, gas, Address(contract_address) if contract_address else None)

    def transact(
        self,
        contract: str,
        fn: str,
        *args: Any,
        value: int = 0,
        kind: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> TxResult:
        """Estimate (decoding any revert by name), then sign, journal, send and await ``fn(*args)``."""
        call = self.contract(contract).functions[fn](*args)
        payload = payload or {"contract": contract, "fn": fn, "args": _jsonable(args)}
        return self._transact_call(call, f"{contract}.{fn}", value, kind, payload)

    def transact_at(
        self,
        address: str,
        abi: list[dict[str, Any]],
        fn: str,
        *args: Any,
        value: int = 0,
        kind: str | None = None,
    ) -> TxResult:
        """Like :meth:`transact` for a contract mintloom did not deploy (an ERC-20, say)."""
        c = self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        payload = {"contract": address, "fn": fn, "args": _jsonable(args)}
        return self._transact_call(c.functions[fn](*args), f"{address}.{fn}", value, kind, payload)

    def _transact_call(
        self, call: Any, what: str, value: int, kind: str | None, payload: dict[str, Any]
    ) -> TxResult:
        try:
            gas = int(call.estimate_gas({"from": self.account.address, "value": value}))
            tx = call.build_transaction(_draft(self.account.address, gas, value))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._translate(exc, what) from exc
        except Web3Exception as exc:
            raise LedgerError(f"{what} could not be prepared: {exc}") from exc
        return self._send(tx, kind or what, payload)

    def ensure_deployed(self, name: str, *args: Any) -> Address:
        """The recorded address of ``name`` on this chain if code is there, else a new deployment."""
        known = self.deployments.get(self.chain_id).get(name)
        if known is not None and self.has_code(known):
            return Address(known)
        return self.deploy(name, *args)

    def deploy(self, name: str, *args: Any) -> Address:
        """Deploy ``name`` and record its address for this chain id."""
        art = self.artifact(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        try:
            ctor = factory.constructor(*args)
            gas = int(ctor.estimate_gas({"from": self.account.address}))
            tx = ctor.build_transaction(_draft(self.account.address, gas, 0))
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._translate(exc, f"deploy {name}") from exc
        result = self._send(tx, f"deploy:{name}", {"contract": name, "args": _jsonable(args)})
        if result.contract_address is None:
            raise LedgerError(f"deploying {name} produced no contract address")
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


def _draft(sender: str, gas_estimate: int, value: int) -> Any:
    """Transaction fields for build_transaction; nonce and fees are filled in by ``_send``."""
    return {"from": sender, "value": value, "gas": gas_estimate * 12 // 10, "nonce": 0,
            "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}  # fmt: skip


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
