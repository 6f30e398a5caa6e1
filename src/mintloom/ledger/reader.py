"""Read-only access to mintloom's contracts on any JSON-RPC endpoint, without a key or a
workspace: what a third party (a journalist, a marketplace) needs to check an anchor, and the
base of :class:`~mintloom.ledger.client.ChainClient`.

Contract addresses come from a ``deployments.json`` (as a workspace writes it) or are learned at
run time, e.g. from a receipt whose anchor names the ``ProvenanceLog`` contract (kept in memory
only, never written anywhere).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3Exception
from web3.types import RPCEndpoint

from mintloom.errors import ChainMismatchError, ContractError, LedgerError, LedgerInputError
from mintloom.ledger.contracts import KNOWN_CONTRACTS, Artifact, ErrorDecoder, load_artifact
from mintloom.ledger.logpages import DEFAULT_PAGE_BLOCKS, first_code_block, scan
from mintloom.logs import get_logger, public_url, scrub_url
from mintloom.store.files import MAX_SMALL_TEXT_BYTES, read_regular
from mintloom.types import Address

log = get_logger(__name__)

BATCH_CALLS = 96
"""View calls per ``eth_call`` of :meth:`ChainReader.read_batch`: their answers (~200 bytes each
for mintloom's views) stay under the 24 KiB code-size limit the answer is returned through."""


@dataclass(frozen=True)
class ViewCall:
    """One view function call of a mintloom contract, for :meth:`ChainReader.read_batch`."""

    contract: str
    fn: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _View:
    """A view function's selector and ABI types, encoded without web3's per-call ABI search."""

    selector: bytes
    inputs: list[str]
    outputs: list[str]


def _abi_type(param: dict[str, Any]) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[5:]
    return t


def _checksummed(typ: str, value: Any) -> Any:
    """Addresses as web3 returns them (checksummed); eth_abi decodes them in lower case."""
    if typ == "address":
        return Web3.to_checksum_address(value)
    if typ == "address[]":
        return tuple(Web3.to_checksum_address(v) for v in value)
    return value


class Deployments:
    """Contract addresses per chain id, in ``.mintloom/chain/deployments.json`` (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _all(self) -> dict[str, dict[str, str]]:
        if not os.path.lexists(self.path):
            return {}
        raw = read_regular(
            self.path, limit=MAX_SMALL_TEXT_BYTES, what="contract addresses", error=LedgerInputError
        )
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise LedgerError(f"cannot read {self.path}: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")  # one per writer process
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(self.path)

    def per_chain(self) -> dict[str, dict[str, str]]:
        """Every recorded address, by chain id (as a string) and contract name."""
        return self._all()

    def get(self, chain_id: int) -> dict[str, str]:
        return dict(self._all().get(str(chain_id), {}))

    def set(self, chain_id: int, name: str, address: str) -> None:
        data = self._all()
        data.setdefault(str(chain_id), {})[name] = address
        self._write(data)

    def forget(self, chain_id: int) -> None:
        data = self._all()
        if data.pop(str(chain_id), None) is not None:
            self._write(data)
        for sibling in (self._sibling("code"), self._sibling("block")):
            if sibling.get(chain_id):
                sibling.forget(chain_id)

    def _sibling(self, what: str) -> Deployments:
        return Deployments(self.path.with_name(f"{self.path.stem}-{what}.json"))

    def code_of(self, chain_id: int, name: str) -> str | None:
        """sha-256 of the creation code ``name`` was deployed from (None: not recorded, e.g. a
        deployment made by an earlier mintloom)."""
        return self._sibling("code").get(chain_id).get(name)

    def set_code(self, chain_id: int, name: str, code_hash: str) -> None:
        self._sibling("code").set(chain_id, name, code_hash)

    def block_of(self, chain_id: int, name: str) -> int | None:
        """The block ``name`` was deployed in: where scanning its event logs starts (None: not
        recorded, e.g. a deployment made by an earlier mintloom)."""
        raw = self._sibling("block").get(chain_id).get(name)
        return int(raw) if isinstance(raw, str) and raw.isdigit() else None

    def set_block(self, chain_id: int, name: str, block: int) -> None:
        self._sibling("block").set(chain_id, name, str(block))


class ChainReader:
    def __init__(
        self,
        rpc_url: str,
        addresses: dict[str, str] | None = None,
        *,
        timeout: float = 30,
        recorded: Deployments | None = None,
        log_page: int = DEFAULT_PAGE_BLOCKS,
    ) -> None:
        """``recorded``: a ``deployments.json`` read at each lookup (so contracts a workspace
        deploys later are found), its addresses over those learned in memory. ``log_page``:
        blocks per ``eth_getLogs`` request (halved when a provider refuses a range)."""
        self.rpc_url = rpc_url
        self._recorded = recorded
        self.log_page = log_page
        self._deployed_at: dict[str, int] = {}
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        try:
            self._chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:  # requests/connection errors come in many types
            detail = scrub_url(str(exc), rpc_url)
            raise LedgerError(f"cannot reach the chain at {public_url(rpc_url)}: {detail}") from exc
        self._learned = dict(addresses or {})
        self._artifacts: dict[str, Artifact] = {}
        self._contracts: dict[tuple[str, str], Any] = {}
        self._views: dict[tuple[str, str], _View] = {}
        self._decoder: ErrorDecoder | None = None
        self._batch_code: bytes | None = None

    @classmethod
    def from_deployments(
        cls, rpc_url: str, path: Path, *, log_page: int = DEFAULT_PAGE_BLOCKS
    ) -> ChainReader:
        """A reader with the addresses a workspace recorded (``.mintloom/chain/deployments.json``);
        an endpoint serving a chain the file records nothing for is refused
        (:class:`ChainMismatchError`)."""
        if not os.path.lexists(path):
            raise LedgerError(f"cannot read contract addresses from {path}: no such file")
        chains = sorted(Deployments(path).per_chain())  # read (and refused) before any connection
        reader = cls(rpc_url, recorded=Deployments(path), log_page=log_page)
        if chains and str(reader.chain_id) not in chains:
            raise ChainMismatchError(
                f"{public_url(rpc_url)} serves chain {reader.chain_id}, but {path} records contracts "
                f"only on chain {', '.join(chains)}",
                hint="pass an RPC URL of the chain the contracts were deployed on",
            )
        return reader

    # -- identity and addresses -------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        return self._chain_id

    def addresses(self) -> dict[str, str]:
        return {**self._learned, **self.recorded()}

    def recorded(self) -> dict[str, str]:
        """Addresses from the deployments file (none without one): pinned, not learned."""
        return self._recorded.get(self.chain_id) if self._recorded is not None else {}

    def learn(self, name: str, address: str) -> None:
        """Use ``address`` for ``name`` unless one is known (memory only)."""
        self._learned.setdefault(name, Web3.to_checksum_address(address))

    def address_of(self, name: str) -> Address:
        addr = self.addresses().get(name)
        if addr is None:
            hint = "in a workspace run `mintloom deploy`; outside one pass --contracts"
            raise LedgerError(f"no address known for {name} on chain {self.chain_id}", hint=hint)
        return Address(addr)

    def artifact(self, name: str) -> Artifact:
        if name not in self._artifacts:
            self._artifacts[name] = load_artifact(name)
        return self._artifacts[name]

    @property
    def decoder(self) -> ErrorDecoder:
        """Every known contract's custom errors, built at the first revert to decode (it parses
        every artifact: a reader that sees no revert, e.g. a verify, never pays for it)."""
        if self._decoder is None:
            self._decoder = ErrorDecoder([self.artifact(n).abi for n in KNOWN_CONTRACTS])
        return self._decoder

    def has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(Web3.to_checksum_address(address))) > 0

    def contract(self, name: str) -> Any:
        """The web3 contract ``name`` at its current address (built once per address: building
        one parses the whole ABI, which costs more than the call a verify makes with it)."""
        key = (name, Web3.to_checksum_address(self.address_of(name)))
        if key not in self._contracts:
            self._contracts[key] = self.w3.eth.contract(address=key[1], abi=self.artifact(name).abi)
        return self._contracts[key]

    # -- errors and reads -------------------------------------------------------------------------
    def _translate(self, exc: Exception, what: str) -> ContractError:
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        decoded = self.decoder.decode(data if isinstance(data, str | bytes) else None)
        if decoded is None:
            return ContractError(f"{what} reverted: {exc}")
        name, args = decoded
        shown = ", ".join(a.hex() if isinstance(a, bytes) else str(a) for a in args)
        return ContractError(f"{what} reverted with {name}({shown})", error_name=name, args=args)

    def call(self, contract: str, fn: str, *args: Any, block: int | None = None) -> Any:
        """The view ``contract.fn(*args)`` at the head, or at ``block`` (reads that must agree)."""
        try:
            return (
                self.contract(contract)
                .functions[fn](*args)
                .call(block_identifier="latest" if block is None else block)
            )
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._translate(exc, f"{contract}.{fn}") from exc
        except (Web3Exception, OSError) as exc:  # OSError: requests' connection errors
            raise LedgerError(f"{contract}.{fn} failed: {exc}") from exc

    def _view(self, contract: str, fn: str) -> _View:
        key = (contract, fn)
        if key not in self._views:
            entry = next(
                (e for e in self.artifact(contract).abi if e.get("type") == "function" and e["name"] == fn),
                None,
            )
            if entry is None:
                raise LedgerError(f"{contract} has no function {fn}")
            inputs = [_abi_type(i) for i in entry.get("inputs", [])]
            outputs = [_abi_type(o) for o in entry.get("outputs", [])]
            selector = keccak(text=f"{fn}({','.join(inputs)})")[:4]
            self._views[key] = _View(selector, inputs, outputs)
        return self._views[key]

    def read_batch(self, calls: Sequence[ViewCall]) -> list[Any | None]:
        """The answers of many view calls in few requests: :data:`BATCH_CALLS` per ``eth_call`` of
        ``ReadBatch``'s creation code (nothing is deployed or written, any node serves it). An
        answer is what :meth:`call` returns, or None where that call would raise (a revert, no
        code at the address). A batch the node refuses (e.g. an answer over the code-size limit)
        is halved and asked again; an unreachable node raises :class:`LedgerError`."""
        known = self.addresses()
        for c in calls:
            if c.contract not in known:
                self.address_of(c.contract)  # raises, naming the contract
        answers: list[Any | None] = []
        for i in range(0, len(calls), BATCH_CALLS):
            answers += self._batch(calls[i : i + BATCH_CALLS], known)
        return answers

    def _batch(self, calls: Sequence[ViewCall], known: dict[str, str]) -> list[Any | None]:
        views = [self._view(c.contract, c.fn) for c in calls]
        # each contract's address checked once, then passed as its 20 bytes (a checksum per
        # call cost more than the node's answer)
        names = {c.contract for c in calls}
        where = {n: bytes.fromhex(Web3.to_checksum_address(known[n])[2:]) for n in names}
        targets = [where[c.contract] for c in calls]
        data = [v.selector + _encoded(v.inputs, c.args) for v, c in zip(views, calls, strict=True)]
        init = self._read_batch_code() + abi_encode(["address[]", "bytes[]"], [targets, data])
        try:
            answer = self.w3.provider.make_request(
                RPCEndpoint("eth_call"), [{"data": "0x" + init.hex()}, "latest"]
            )
        except (Web3Exception, OSError) as exc:
            raise LedgerError(f"a batch of {len(calls)} chain reads failed: {exc}") from exc
        if "error" in answer or not isinstance(answer.get("result"), str):
            if len(calls) == 1:
                raise LedgerError(f"the node refused a batched read: {answer.get('error')}")
            half = len(calls) // 2
            return self._batch(calls[:half], known) + self._batch(calls[half:], known)
        try:
            oks, results = abi_decode(["bool[]", "bytes[]"], bytes.fromhex(answer["result"][2:]))
        except (DecodingError, ValueError) as exc:
            raise LedgerError(f"a batched read answered garbage: {exc}") from exc
        return [_decoded(v, ok, raw) for v, ok, raw in zip(views, oks, results, strict=True)]

    def _read_batch_code(self) -> bytes:
        if self._batch_code is None:
            self._batch_code = bytes.fromhex(self.artifact("ReadBatch").bytecode[2:])
        return self._batch_code

    # -- event logs, page by page ------------------------------------------------------------------
    def _deployments(self) -> Deployments | None:
        return self._recorded

    def deployment_block(self, name: str) -> int:
        """The block ``name`` was deployed in, where its event logs start: as recorded at
        deployment, else found by binary search over ``eth_getCode`` (a verifier holding only a
        receipt and an RPC URL), else 0 when the node keeps no old state."""
        recorded = self._deployments()
        block = recorded.block_of(self.chain_id, name) if recorded is not None else None
        if block is None:
            block = self._deployed_at.get(name)
        if block is None:
            block = self._search_deployment(name)
            self._deployed_at[name] = block
        return block

    def _search_deployment(self, name: str) -> int:
        address = Web3.to_checksum_address(self.address_of(name))
        try:
            head = int(self.w3.eth.block_number)
            if not self.w3.eth.get_code(address, head):
                return head  # no code: no logs either
            return first_code_block(lambda b: bytes(self.w3.eth.get_code(address, b)), head)
        except (Web3Exception, OSError, ValueError) as exc:  # pruned state, e.g. a full node
            log.warning("deployment block not found: scanning logs from block 0", extra={"error": str(exc)})
            return 0

    def event_logs(
        self, contract: str, event: str, filters: dict[str, Any], *, first: bool = False
    ) -> list[Any]:
        """``event`` logs of ``contract`` matching ``filters``, from its deployment block to the
        head, in pages of :attr:`log_page` blocks; ``first``: stop at the first page with any."""
        handle = self.contract(contract).events[event]

        def fetch(low: int, high: int) -> list[Any]:
            return list(handle.get_logs(argument_filters=filters, from_block=low, to_block=high))

        start = self.deployment_block(contract)
        return scan(fetch, start, int(self.w3.eth.block_number), self.log_page, stop_at_first=first)

    def anchoring_log(self, size: int, block_hint: int | None = None) -> Any | None:
        """The ``CheckpointAnchored`` log of checkpoint ``size`` (anchored once: the contract takes
        only growing sizes), or None. ``block_hint`` (a receipt's anchor block) is asked first;
        a wrong hint only costs that one request."""
        event = self.contract("ProvenanceLog").events.CheckpointAnchored
        if block_hint is not None and block_hint >= 0:
            try:
                hinted = event.get_logs(
                    argument_filters={"size": size}, from_block=block_hint, to_block=block_hint
                )
            except (Web3Exception, OSError):  # e.g. a hint past the head
                hinted = []
            if hinted:
                return hinted[0]
        logs = self.event_logs("ProvenanceLog", "CheckpointAnchored", {"size": size}, first=True)
        return min(logs, key=lambda e: int(e["blockNumber"])) if logs else None

    def anchored_at(self, size: int, block_hint: int | None = None) -> dt.datetime | None:
        """Timestamp of the block that anchored checkpoint ``size`` in ProvenanceLog (its
        ``CheckpointAnchored`` event), or None if no such event: the latest a checkpoint of that
        size can have been signed, whatever time it claims."""
        try:
            entry = self.anchoring_log(size, block_hint)
            if entry is None:
                return None
            stamp = int(self.w3.eth.get_block(int(entry["blockNumber"]))["timestamp"])
        except (Web3Exception, OSError, KeyError, ValueError) as exc:
            raise LedgerError(f"cannot read when checkpoint {size} was anchored: {exc}") from exc
        return dt.datetime.fromtimestamp(stamp, dt.UTC)


def _encoded(types: list[str], args: tuple[Any, ...]) -> bytes:
    """``abi_encode(types, args)``; arguments that are all ``uint256`` (a verify's views: leaf
    indices, token ids) as their 32-byte words, without eth_abi's per-value machinery."""
    if len(types) == len(args) and all(
        t == "uint256" and type(a) is int and 0 <= a < 1 << 256 for t, a in zip(types, args, strict=True)
    ):
        return b"".join(a.to_bytes(32, "big") for a in args)
    return abi_encode(types, args)


def _decoded(view: _View, ok: bool, raw: bytes) -> Any | None:
    """One call's answer as web3 returns it (one output unwrapped; arrays as tuples), None for a revert or an
    answer that does not decode (e.g. empty: no code at the address)."""
    if not ok:
        return None
    try:
        values = abi_decode(view.outputs, raw)
    except (DecodingError, ValueError, OverflowError):
        return None
    values = tuple(_checksummed(t, v) for t, v in zip(view.outputs, values, strict=True))
    return values[0] if len(values) == 1 else list(values)
