"""Open the chain a workspace is configured for.

By default that is the workspace's embedded anvil node, started on demand (state persisted in
``.mintloom/chain/``) and used with anvil's first development account. With ``chain.rpc_url``
set, any JSON-RPC endpoint is used the same way, with ``chain.private_key`` or, failing that,
the workspace key store's Ethereum account. Read paths open a :func:`open_reader` instead.
"""

from __future__ import annotations

from eth_account import Account

from mintloom.config import Settings
from mintloom.errors import LedgerError, NodeError
from mintloom.ledger.client import ChainClient
from mintloom.ledger.node import ANVIL_DEV_KEY, AnvilNode
from mintloom.ledger.reader import ChainReader, Deployments
from mintloom.logs import public_url
from mintloom.provenance.keys import KeyStore
from mintloom.store.db import Database
from mintloom.types import Address
from mintloom.workspace import Workspace


def managed_node(ws: Workspace, settings: Settings) -> AnvilNode:
    c = settings.chain
    return AnvilNode(ws.chain_dir, port=c.anvil_port, state_interval=c.state_interval)


def open_chain(
    ws: Workspace, settings: Settings, db: Database, *, password: str | None = None, recover: bool = True
) -> ChainClient:
    """A :class:`ChainClient` for the workspace, recovered and reconciled with its journal
    (``recover=False`` only for `mintloom chain reset`, which must open a chain it refuses)."""
    c = settings.chain
    if c.rpc_url is None:
        info = managed_node(ws, settings).start()
        url, key = info.rpc_url, c.private_key or ANVIL_DEV_KEY
    else:
        url = c.rpc_url
        if c.private_key is not None:
            key = c.private_key
        else:
            store = KeyStore(ws.keys_dir)
            if not store.exists():
                raise LedgerError(
                    f"no key to send transactions to {public_url(url)}",
                    hint="set chain.private_key (MINTLOOM_CHAIN__PRIVATE_KEY) or run `mintloom keys init`",
                )
            key = "0x" + store.eth_private_key(password).hex()
    deployments = Deployments(ws.chain_dir / "deployments.json")
    cap = None if c.max_fee_gwei is None else int(c.max_fee_gwei * 10**9)
    return ChainClient(
        url,
        key,
        db,
        deployments,
        timeout=c.timeout_s,
        reconcile=recover,
        log_page=c.log_page_blocks,
        max_fee_wei=cap,
    )


def open_reader(ws: Workspace, settings: Settings) -> ChainReader:
    """A read-only :class:`ChainReader` on the workspace's chain, with its recorded contract
    addresses. Unlike :func:`open_chain` it writes nothing: it never starts the embedded node,
    needs no key and leaves the journal alone (a read path must not replay or rebroadcast)."""
    c = settings.chain
    if c.rpc_url is None:
        info = managed_node(ws, settings).running()
        if info is None:
            raise NodeError(
                "the workspace's embedded chain node is not running",
                hint="start it with `mintloom node start`",
            )
        url = info.rpc_url
    else:
        url = c.rpc_url
    deployments = Deployments(ws.chain_dir / "deployments.json")
    deployments.per_chain()  # read (and refused) before any connection
    return ChainReader(url, timeout=c.timeout_s, recorded=deployments, log_page=c.log_page_blocks)


def sender_address(ws: Workspace, settings: Settings) -> Address:
    """The account :func:`open_chain` sends from, found without its key (or the key password):
    what a read about "my" balance needs."""
    c = settings.chain
    if c.private_key is not None or c.rpc_url is None:
        return Address(Account.from_key(c.private_key or ANVIL_DEV_KEY).address)
    store = KeyStore(ws.keys_dir)
    if not store.exists():
        raise LedgerError(
            f"no account is configured for {public_url(c.rpc_url)}",
            hint="set chain.private_key or run `mintloom keys init`",
        )
    return Address(store.info().eth_address)
