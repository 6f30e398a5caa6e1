"""The public entry object: one workspace with its settings, catalog, keys, log and chain.

>>> studio = Studio.open()            # the workspace above the current directory
>>> studio.anchor()                   # anchor the log's current checkpoint on chain

Everything is opened lazily, so commands that never touch the chain never start a node.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.config import Settings
from mintloom.provenance.keys import KeyStore, LocalSigner
from mintloom.provenance.log import TransparencyLog
from mintloom.store.blobs import BlobStore, open_blob_store
from mintloom.store.db import Database
from mintloom.workspace import Workspace

if TYPE_CHECKING:
    from mintloom.campaign.run import RunParts
    from mintloom.ledger.anchoring import AnchorResult
    from mintloom.ledger.client import ChainClient
    from mintloom.ledger.node import AnvilNode
    from mintloom.ledger.reader import ChainReader
    from mintloom.provenance.content_credentials import C2paAssetSigner


class Studio:
    def __init__(self, workspace: Workspace, *, password: str | None = None, read_only: bool = False) -> None:
        self.workspace = workspace
        self._password = password
        self.read_only = read_only
        """A read-only studio (verify) never migrates its catalog: an older one is refused."""
        self._own_node: AnvilNode | None = None
        self._contracts: dict[str, str] | None = None

    @classmethod
    def open(cls, start: Path | None = None, *, password: str | None = None) -> Studio:
        return cls(Workspace.find(start), password=password)

    # -- parts ------------------------------------------------------------------------------------
    @cached_property
    def settings(self) -> Settings:
        return self.workspace.settings()

    @cached_property
    def db(self) -> Database:
        from mintloom.schema import open_workspace_database  # the ledger's tables bring web3: lazily

        url = self.workspace.database_url(self.settings)
        return open_workspace_database(url, writable=not self.read_only)

    @cached_property
    def blobs(self) -> BlobStore:
        """The configured blob store (``blobs.url``: S3-compatible; unset: ``.mintloom/blobs``)."""
        b = self.settings.blobs
        return open_blob_store(self.workspace.blobs_dir, b.url, endpoint_url=b.endpoint_url)

    @cached_property
    def keys(self) -> KeyStore:
        return KeyStore(self.workspace.keys_dir)

    @cached_property
    def log(self) -> TransparencyLog:
        return TransparencyLog(self.db)

    @cached_property
    def signer(self) -> LocalSigner:
        return self.keys.signer(self._password)

    @cached_property
    def asset_signer(self) -> C2paAssetSigner:
        from mintloom.provenance.content_credentials import C2paAssetSigner

        return C2paAssetSigner(self.signer, tsa_url=self.settings.provenance.tsa_url)

    def remix_signer(self, parent_anchors_pem: str) -> C2paAssetSigner:
        """:attr:`asset_signer` trusting ``parent_anchors_pem`` (the parent organisation's roots)
        for a remix's parent: the child records its parent's credential as valid, not untrusted."""
        from mintloom.provenance.content_credentials import C2paAssetSigner

        tsa = self.settings.provenance.tsa_url
        return C2paAssetSigner(self.signer, tsa_url=tsa, parent_anchors=parent_anchors_pem)

    @cached_property
    def chain(self) -> ChainClient:
        """The configured chain. An embedded node this studio had to start is stopped again by
        :meth:`close` (its state persists); one that was already running is left running."""
        from mintloom.ledger.connect import open_chain

        self._claim_node()
        return open_chain(self.workspace, self.settings, self.db, password=self._password)

    def chain_reader(self, *, start_node: bool = False) -> ChainReader:
        """The configured chain, read-only, for read paths: unlike :attr:`chain` it needs no key
        and never reconciles, replays or sends a transaction. The embedded node is started only
        with ``start_node`` (and stopped by :meth:`close`); else a node that is down is a
        :class:`~mintloom.errors.NodeError` (verification must start nothing)."""
        from mintloom.ledger.connect import managed_node, open_reader

        if start_node and self.settings.chain.rpc_url is None:
            self._claim_node()
            managed_node(self.workspace, self.settings).start()
        return open_reader(self.workspace, self.settings)

    def _claim_node(self) -> None:
        from mintloom.ledger.connect import managed_node

        if self.settings.chain.rpc_url is None and self._own_node is None:
            node = managed_node(self.workspace, self.settings)
            if node.running() is None:
                self._own_node = node

    def reset_chain(self) -> int:
        """Forget the configured chain's deployments, journal and on-chain names, after a
        ``ChainResetError`` said it lost this workspace's history; `deploy` then starts over."""
        from mintloom.ledger.connect import open_chain
        from mintloom.ledger.deploy import reset_chain

        self._claim_node()
        raw = open_chain(self.workspace, self.settings, self.db, password=self._password, recover=False)
        self.__dict__.pop("chain", None)
        self._contracts = None
        return reset_chain(raw, self.db)

    def contracts(self) -> dict[str, str]:
        """Name → address of every mintloom contract on the configured chain, deploying what is
        missing on first use (once per studio)."""
        if self._contracts is None:
            from mintloom.ledger.deploy import deploy_all

            self._contracts = deploy_all(self.chain, self.settings.governance)
        return dict(self._contracts)

    def ensure_keys(self) -> None:
        """Create the organisation keys on first use (organisation name from the config)."""
        if not self.keys.exists():
            p = self.settings.provenance
            self.keys.init(
                p.organisation, "ed25519" if p.signing_alg == "ed25519" else "es256", self._password
            )

    def run_parts(self) -> RunParts:
        """What a campaign runner writes to (opening the signing key now: a wrong password fails
        before any work)."""
        from mintloom.campaign.run import RunParts

        return RunParts(self.db, self.log, self.asset_signer, self.signer, self.blobs, self.workspace.out_dir)

    # -- jobs -------------------------------------------------------------------------------------
    def anchor(self) -> AnchorResult:
        """Anchor the log's latest checkpoint (a new one if the log grew). Deploys nothing: call
        :meth:`contracts` first on a chain without mintloom's contracts."""
        from mintloom.ledger.anchoring import anchor_log

        return anchor_log(self.chain, self.log, self.signer)

    def close(self) -> None:
        """Release the database and stop an embedded node this studio started."""
        if self._own_node is not None:
            self._own_node.stop()
            self._own_node = None
            self._contracts = None
            self.__dict__.pop("chain", None)
        if "db" in self.__dict__:
            self.db.dispose()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
