"""The reward a child earned from an organisation's own log, at whichever family pool paid it.

A fan's child is no token of any CreativeAssets: ``UGCRewards.submitFromLog`` proves it in the
fan's ProvenanceLog and emits ``ChildProvenInLog(child, log, …)`` next to ``RewardGranted``. The
fan's workspace (or a third party holding the fan's receipt) knows the log, not the family's pool,
so the pool is found by those two indexed topics over every address. Anyone can deploy a contract
that emits the same event, so only a pool running UGCRewards' own code counts: its runtime code
must equal what UGCRewards' creation code yields with the immutables it reports (an ``eth_call``
of that creation code, nothing deployed). Such a pool emits the event only for the log's admin
(``_checkLog``), so the creator shown is the log's organisation.

Genuine code is not enough: anyone can deploy the project's own FamilyConfig over a brand's
CreativeAssets with themselves as owner, add a range holding the brand's parent and wire a genuine
pool to it. A family counts only if the brand controls it (:func:`_brand_controlled`): it was
created owned by an admin of its CreativeAssets (FamilyConfig adds ranges only through its owner,
and every later owner was handed the family by the one before, as ``deploy_family`` hands it to
the family DAO's timelock), and the pool has the family's owner, who alone sets its reward.
Read only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.logs import DISCARD
from web3.types import RPCEndpoint

from mintloom.errors import LedgerError
from mintloom.ledger.logpages import first_code_block, scan
from mintloom.ledger.reader import ChainReader

_PROVEN = Web3.keccak(text="ChildProvenInLog(uint256,address,uint64,uint64)")
_OWNERSHIP = Web3.keccak(text="OwnershipTransferred(address,address)")
_ADMIN_ROLE = bytes(32)  # AccessControl's DEFAULT_ADMIN_ROLE


@dataclass(frozen=True)
class LoggedReward:
    """A ``RewardGranted`` of a genuine UGCRewards pool for a child proven in a log."""

    pool: str
    creator: str
    amount: int
    parent: int
    tx_hash: str


def logged_reward(reader: ChainReader, child: int, log_address: str, start: int) -> LoggedReward | None:
    """The first reward a genuine pool granted ``child`` proven in ``log_address`` (events from
    block ``start`` on); None if none did. :class:`LedgerError` if the chain cannot be read."""
    words = [bytes(_PROVEN), child.to_bytes(32, "big"), bytes(12) + bytes.fromhex(log_address[2:])]
    topics: list[HexStr] = [HexStr("0x" + w.hex()) for w in words]

    def fetch(low: int, high: int) -> list[Any]:
        return list(reader.w3.eth.get_logs({"fromBlock": low, "toBlock": high, "topics": topics}))

    try:
        found = scan(fetch, start, int(reader.w3.eth.block_number), reader.log_page)
        for entry in found:  # every match: a fake pool's earlier event must not hide a genuine one
            pool = Web3.to_checksum_address(entry["address"])
            if genuine_pool(reader, pool):
                granted = _granted(reader, pool, child, entry["transactionHash"])
                if granted is not None and _family_pool(reader, pool, granted.parent):
                    return granted
    except (Web3Exception, OSError, ValueError) as exc:
        raise LedgerError(f"cannot read the UGC reward of child {hex(child)}: {exc}") from exc
    return None


def genuine_pool(reader: ChainReader, pool: str) -> bool:
    """``pool`` runs UGCRewards' code, with the immutables it reports (any other code: False)."""
    c = reader.w3.eth.contract(address=Web3.to_checksum_address(pool), abi=reader.artifact("UGCRewards").abi)
    try:
        _assets, market, family = c.functions.contracts().call()
        epoch = int(c.functions.parameters().call()[5])
    except (Web3Exception, ValueError, TypeError, OverflowError):
        return False  # no such views
    args = abi_encode(["address", "address", "address", "uint256"], [pool, market, family, epoch])
    return _runs_code(reader, "UGCRewards", pool, args)


def _family_pool(reader: ChainReader, pool: str, parent: int) -> bool:
    """The genuine ``pool`` pays for a family of this chain's recorded deployments, or for a
    genuine FamilyConfig over genuine CreativeAssets that holds ``parent`` and that the brand
    controls (:func:`_brand_controlled`): a pool wired to a fake family (whose ``inFamily`` says
    yes to anything), or to a genuine family someone else set up, is no family pool."""
    c = reader.w3.eth.contract(address=Web3.to_checksum_address(pool), abi=reader.artifact("UGCRewards").abi)
    try:
        assets, market, family = (str(a) for a in c.functions.contracts().call())
        recorded = {k: v.lower() for k, v in reader.recorded().items()}
        names = ("CreativeAssets", "LicenseMarket", "FamilyConfig")
        if all(recorded.get(n) == a.lower() for n, a in zip(names, (assets, market, family), strict=True)):
            return True
        f = reader.w3.eth.contract(
            address=Web3.to_checksum_address(family), abi=reader.artifact("FamilyConfig").abi
        )
        return (
            _genuine_family(reader, family, assets)
            and bool(f.functions.inFamily(parent).call())
            and _brand_controlled(reader, pool, family, assets)
        )
    except (Web3Exception, LedgerError, OSError, ValueError, TypeError, OverflowError):
        return False  # a pool that cannot be checked is not shown as the family's


def _genuine_family(reader: ChainReader, family: str, assets: str) -> bool:
    """``family`` runs FamilyConfig's code over ``assets``, itself running CreativeAssets' code."""
    f = reader.w3.eth.contract(
        address=Web3.to_checksum_address(family), abi=reader.artifact("FamilyConfig").abi
    )
    a = reader.w3.eth.contract(
        address=Web3.to_checksum_address(assets), abi=reader.artifact("CreativeAssets").abi
    )
    fa, templates = f.functions.contracts().call()
    log = str(a.functions.provenanceLog().call())
    if str(fa).lower() != assets.lower():
        return False
    terms = int(f.functions.newLeafTerms().call())
    fargs = abi_encode(["address", "address", "address", "uint256"], [family, assets, templates, terms])
    aargs = abi_encode(["address", "address", "address", "uint96"], [assets, log, assets, 0])
    return _runs_code(reader, "FamilyConfig", family, fargs) and _runs_code(
        reader, "CreativeAssets", assets, aargs
    )


def _brand_controlled(reader: ChainReader, pool: str, family: str, assets: str) -> bool:
    """The genuine ``family`` was created owned by an account that is (still) an admin of the
    genuine ``assets`` (its first ``OwnershipTransferred`` is from the zero address to that
    account), and the genuine ``pool``'s owner is the family's current owner. A family anyone
    else created has never held a range its creator did not add; one created owned by the admin
    holds only ranges added by the admin or whoever the admin handed it to."""
    f = reader.w3.eth.contract(
        address=Web3.to_checksum_address(family), abi=reader.artifact("FamilyConfig").abi
    )
    p = reader.w3.eth.contract(address=Web3.to_checksum_address(pool), abi=reader.artifact("UGCRewards").abi)
    if str(p.functions.owner().call()).lower() != str(f.functions.owner().call()).lower():
        return False
    topics: list[HexStr | None] = [HexStr("0x" + bytes(_OWNERSHIP).hex()), HexStr("0x" + bytes(32).hex())]

    def fetch(low: int, high: int) -> list[Any]:
        query = {"address": Web3.to_checksum_address(family), "fromBlock": low, "toBlock": high}
        return list(reader.w3.eth.get_logs({**query, "topics": topics}))  # type: ignore[typeddict-item]

    head = int(reader.w3.eth.block_number)
    deployed = _deployed_at(reader, family, head)
    if deployed is None:  # no old state on this node: refused rather than scanned from the genesis
        return False
    created = scan(fetch, deployed, head, reader.log_page, stop_at_first=True)
    if not created:
        return False
    first_owner = Web3.to_checksum_address(bytes(created[0]["topics"][2])[12:])
    a = reader.w3.eth.contract(
        address=Web3.to_checksum_address(assets), abi=reader.artifact("CreativeAssets").abi
    )
    return bool(a.functions.hasRole(_ADMIN_ROLE, first_owner).call())


def _deployed_at(reader: ChainReader, address: str, head: int) -> int | None:
    """The block ``address`` got its code at (its constructor's events are there), or None when the
    node keeps no old state: a family not recorded here then does not count (a scan of its events
    from the genesis would cost anyone's fake pool tens of thousands of calls on a public chain)."""
    where = Web3.to_checksum_address(address)
    try:
        return first_code_block(lambda b: bytes(reader.w3.eth.get_code(where, b)), head)
    except (Web3Exception, OSError, ValueError):
        return None


def _runs_code(reader: ChainReader, name: str, address: str, args: bytes) -> bool:
    """``address``'s runtime code is what ``name``'s creation code yields with ``args`` (an
    ``eth_call``, nothing deployed)."""
    init = bytes.fromhex(reader.artifact(name).bytecode.removeprefix("0x")) + args
    try:
        answer = reader.w3.provider.make_request(
            RPCEndpoint("eth_call"), [{"data": "0x" + init.hex()}, "latest"]
        )
    except (Web3Exception, ValueError, TypeError, OverflowError):
        return False
    runtime = answer.get("result")
    if not isinstance(runtime, str):
        return False  # a constructor the reported contracts make revert
    return bytes.fromhex(runtime.removeprefix("0x")) == bytes(
        reader.w3.eth.get_code(Web3.to_checksum_address(address))
    )


def _granted(reader: ChainReader, pool: str, child: int, tx_hash: Any) -> LoggedReward | None:
    """The pool's ``RewardGranted`` for ``child`` in transaction ``tx_hash``."""
    receipt = reader.w3.eth.get_transaction_receipt(tx_hash)
    c = reader.w3.eth.contract(address=Web3.to_checksum_address(pool), abi=reader.artifact("UGCRewards").abi)
    for e in c.events.RewardGranted().process_receipt(receipt, errors=DISCARD):
        if str(e["address"]).lower() == pool.lower() and int(e["args"]["child"]) == child:
            a = e["args"]
            tx = "0x" + bytes(e["transactionHash"]).hex().removeprefix("0x")
            return LoggedReward(pool, str(a["creator"]), int(a["amount"]), int(a["parent"]), tx)
    return None
