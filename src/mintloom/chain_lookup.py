"""The chain lookups ``verify`` is handed: a read-only :class:`ChainReader` on a workspace's chain
or any JSON-RPC endpoint, answering the :class:`~mintloom.verify.lookup.ChainLookup` Protocol.

This module sits above verify, ledger, governance and :mod:`mintloom.studio` (verify imports none
of them); :func:`verify_context` builds a workspace's :class:`VerifyContext`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.errors import ConfigError, ContractError, MintloomError
from mintloom.governance.licenses import CONTRACT as TERMS_CONTRACT
from mintloom.governance.licenses import FLAVOURS, terms_of
from mintloom.ledger.assets import token_id
from mintloom.ledger.lineage import dataset_info, model_info
from mintloom.ledger.logpages import DEFAULT_PAGE_BLOCKS
from mintloom.ledger.reader import ChainReader
from mintloom.store.catalog import Catalog
from mintloom.store.files import MAX_SMALL_TEXT_BYTES, read_regular
from mintloom.verify.report import DatasetLineage, LicenseInfo, ModelLineage, TermsInfo
from mintloom.verify.verifier import VerifyContext

if TYPE_CHECKING:
    from mintloom.studio import Studio

_LOG = "ProvenanceLog"


class ReaderLookup:
    """:class:`~mintloom.verify.lookup.ChainLookup` over a read-only :class:`ChainReader`."""

    def __init__(self, reader: ChainReader) -> None:
        self.reader = reader
        self._known_terms: dict[tuple[str, int], TermsInfo] = {}
        """Registered licence terms never change (an id names the hash of its terms): read once."""

    @classmethod
    def connect(
        cls, rpc_url: str, deployments: Path | None = None, *, log_page: int = DEFAULT_PAGE_BLOCKS
    ) -> ReaderLookup:
        """Any JSON-RPC endpoint, with contract addresses pinned by a ``deployments.json``."""
        if deployments is not None:
            return cls(ChainReader.from_deployments(rpc_url, deployments, log_page=log_page))
        return cls(ChainReader(rpc_url, log_page=log_page))

    @property
    def chain_id(self) -> int:
        return self.reader.chain_id

    @property
    def pins_log(self) -> bool:
        return _LOG in self.reader.recorded()

    def _use(self, log_address: str | None) -> None:
        if not self.pins_log and log_address is not None:
            self.reader.learn(_LOG, log_address)  # memory only: a third party without deployments

    def anchored_root(self, size: int, log_address: str | None) -> str | None:
        self._use(log_address)
        try:
            return bytes(self.reader.call(_LOG, "rootAt", size)).hex()
        except ContractError as exc:
            if exc.error_name == "UnknownCheckpoint":
                return None
            raise

    def anchored_at(
        self, size: int, log_address: str | None, block_hint: int | None = None
    ) -> dt.datetime | None:
        self._use(log_address)
        return self.reader.anchored_at(size, block_hint)

    def license(self, leaf_index: int, cid: str) -> LicenseInfo | None:
        try:
            return self._license(leaf_index, cid)
        except MintloomError:  # contracts unreadable
            return None

    def _license(self, leaf_index: int, cid: str) -> LicenseInfo:
        chain, deployed = self.reader, self.reader.addresses()
        info = LicenseInfo()
        if "LicenseMarket" in deployed:
            info.terms_ids = [int(t) for t in chain.call("LicenseMarket", "termsOfLeaf", leaf_index)]
            info.terms = [self._terms(t) for t in info.terms_ids]
        if "CreativeAssets" in deployed:
            token = token_id(cid)
            info.token_id = hex(token)
            info.registered = bool(chain.call("CreativeAssets", "isRegistered", token))
            if info.registered:
                info.owner = str(chain.call("CreativeAssets", "ownerOf", token))
        if "LineageRegistry" in deployed:
            model_id, dataset_ids = chain.call("LineageRegistry", "lineageOf", leaf_index)
            if model_id:
                m = model_info(chain, int(model_id))
                info.model = ModelLineage(id=m.onchain_id, trainer=m.trainer, license=m.license)
            info.datasets = [_dataset(chain, int(d)) for d in dataset_ids]
        return info

    def _terms(self, terms_id: int) -> TermsInfo:
        key = (str(self.reader.address_of(TERMS_CONTRACT)), terms_id)
        if key not in self._known_terms:
            name = next((n for n, i in FLAVOURS.items() if i == terms_id), None)
            self._known_terms[key] = TermsInfo(
                id=terms_id, name=name, **terms_of(self.reader, terms_id).model_dump()
            )
        return self._known_terms[key]


def _dataset(chain: ChainReader, onchain_id: int) -> DatasetLineage:
    d = dataset_info(chain, onchain_id)
    return DatasetLineage(
        id=d.onchain_id, curator=d.curator, license=d.license, ai_training_allowed=d.ai_training_allowed
    )


def tsa_roots(studio: Studio) -> str | None:
    """The PEM roots of the time-stamping authorities the workspace trusts (``provenance.tsa_roots``)."""
    name = studio.settings.provenance.tsa_roots
    if name is None:
        return None
    path = studio.workspace.root / name
    raw = read_regular(path, limit=MAX_SMALL_TEXT_BYTES, what="TSA roots", error=ConfigError)
    text = raw.decode("utf-8", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(
            f"provenance.tsa_roots: {path} holds no PEM certificate",
            hint="put the root certificate(s) of your time-stamping authority there, in PEM",
        )
    return text


def verify_context(studio: Studio, *, offline: bool = False) -> VerifyContext:
    """What verifying in ``studio``'s workspace consults: its trust anchors and retired signers,
    catalog, log, blobs and (online) its chain through a read-only reader. A chain that cannot
    be read (e.g. the embedded node is down) becomes ``chain_error``: nothing is started."""
    keys = studio.keys
    ctx = VerifyContext(
        trust_anchors_pem=keys.trust_anchor_pem() if keys.exists() else None,
        catalog=Catalog(studio.db),
        log=studio.log,
        blobs=studio.blobs,
        out_dir=studio.workspace.out_dir,
        retired=keys.retirements() if keys.exists() else {},
        tsa_anchors_pem=tsa_roots(studio),
    )
    if not offline:
        try:
            ctx.chain = ReaderLookup(studio.chain_reader())
        except MintloomError as exc:
            ctx.chain_error = exc.message if exc.hint is None else f"{exc.message} ({exc.hint})"
    return ctx
