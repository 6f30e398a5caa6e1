"""The chain lookups ``verify`` is handed: a read-only :class:`ChainReader` on a workspace's chain
or any JSON-RPC endpoint, answering the :class:`~mintloom.verify.lookup.ChainLookup` Protocol.

This module sits above verify, ledger, governance and :mod:`mintloom.studio` (verify imports none
of them); :func:`verify_context` builds a workspace's :class:`VerifyContext`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mintloom.errors import (
    BlobError,
    CertificateChainError,
    ConfigError,
    ContractError,
    LedgerError,
    MintloomError,
    RunDatasetNotOnChain,
    RunSignerUntrusted,
    TrainingRecordError,
    UnknownTrainingRun,
)
from mintloom.governance.licenses import CONTRACT as TERMS_CONTRACT
from mintloom.governance.licenses import FLAVOURS, terms_of
from mintloom.ledger.assets import token_id
from mintloom.ledger.lineage import dataset_info, model_info
from mintloom.ledger.logpages import DEFAULT_PAGE_BLOCKS
from mintloom.ledger.reader import ChainReader, ViewCall
from mintloom.market.history import sales
from mintloom.store.catalog import Catalog
from mintloom.store.files import MAX_SMALL_TEXT_BYTES, read_regular
from mintloom.verify.report import (
    DatasetLineage,
    LicenseInfo,
    ModelLineage,
    SaleInfo,
    TermsInfo,
    TrainedDataset,
    TrainingRunLineage,
    UgcRewardInfo,
)
from mintloom.verify.verifier import VerifyContext

if TYPE_CHECKING:
    from mintloom.provenance.training import DatasetUse
    from mintloom.store.blobs import BlobStore
    from mintloom.studio import Studio

_LOG = "ProvenanceLog"
T = TypeVar("T")


class ReaderLookup:
    """:class:`~mintloom.verify.lookup.ChainLookup` over a read-only :class:`ChainReader`."""

    def __init__(
        self, reader: ChainReader, blobs: BlobStore | None = None, anchors: str | None = None
    ) -> None:
        self.reader = reader
        self.blobs = blobs
        """where signed training runs and dataset manifests are looked up (a workspace's)"""
        self.anchors = anchors
        """PEM trust anchor(s) a training run's signer must chain to (None: not checked)"""
        self._known_terms: dict[tuple[str, int], TermsInfo] = {}
        """Registered licence terms never change (an id names the hash of its terms): read once."""
        self._known_lineage: dict[tuple[str, str, int], ModelLineage | DatasetLineage] = {}
        """Registered models and datasets never change either (the registry has no update)."""

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

    def licenses(
        self, assets: Sequence[tuple[int, str]], *, detail: bool = False
    ) -> list[LicenseInfo | None]:
        """Each asset's licence facts, read in batches (:meth:`ChainReader.read_batch`: a few
        ``eth_call`` for a whole folder instead of three or four per file); None for an asset
        whose contracts cannot be read."""
        if not assets:
            return []
        try:
            deployed = self.reader.addresses()
            calls = [c for leaf, cid in assets for c in _licence_calls(deployed, leaf, cid)]
            answers = self.reader.read_batch(calls)
        except MintloomError:  # contracts unreadable
            return [None] * len(assets)
        per = len(calls) // len(assets)
        infos = [  # `deployed`, read once, also names the contracts of the terms and lineage asked
            self._licence(deployed, cid, answers[i * per : (i + 1) * per])
            for i, (_leaf, cid) in enumerate(assets)
        ]
        if detail:  # asked of one file, not of a folder's batch (whatever its size: a batch of one
            # file must not answer more than its neighbours in other batches)
            for (_leaf, cid), info in zip(assets, infos, strict=True):
                if info is not None:
                    self._detail(deployed, cid, info)
        return infos

    def _detail(self, deployed: dict[str, str], cid: str, info: LicenseInfo) -> None:
        """A lone file's marketplace sales and UGC reward (event scans, kept out of a folder's
        batches, whose requests stay bounded per file)."""
        if info.registered and "Marketplace" in deployed:
            try:
                info.sales = self._sales(cid)
            except MintloomError:
                info.sales = []
        if info.registered and "UGCRewards" in deployed:
            info.ugc_reward = self._ugc_reward(cid)
        elif not info.registered and _LOG in deployed:
            info.ugc_reward = self._logged_reward(cid)

    def _logged_reward(self, cid: str) -> UgcRewardInfo | None:
        """The reward a child of this log (no token: another organisation's remix) earned at a
        family's pool through ``submitFromLog`` (read only; see ``ledger/ugc_pools.py``)."""
        from mintloom.ledger.ugc_pools import logged_reward

        try:
            log = str(self.reader.address_of(_LOG))
            found = logged_reward(self.reader, token_id(cid), log, self.reader.deployment_block(_LOG))
        except MintloomError:
            return None
        if found is None:
            return None
        return UgcRewardInfo(
            creator=found.creator, amount=str(found.amount), parent_token=hex(found.parent),
            tx_hash=found.tx_hash, pool=found.pool,
        )  # fmt: skip

    def _ugc_reward(self, cid: str) -> UgcRewardInfo | None:
        """The reward the token earned as a family derivative, from ``RewardGranted`` (read only)."""
        try:
            logs = self.reader.event_logs("UGCRewards", "RewardGranted", {"child": token_id(cid)}, first=True)
        except MintloomError:
            return None
        if not logs:
            return None
        a = logs[0]["args"]
        return UgcRewardInfo(
            creator=str(a["creator"]),
            amount=str(a["amount"]),
            parent_token=hex(int(a["parent"])),
            tx_hash="0x" + bytes(logs[0]["transactionHash"]).hex().removeprefix("0x"),
        )

    def _licence(self, deployed: dict[str, str], cid: str, answers: list[Any | None]) -> LicenseInfo | None:
        """One asset's :class:`LicenseInfo` from its answers, in :func:`_licence_calls`' order;
        None where a read failed (as a single failing call makes the whole licence unreadable)."""
        info, rest = LicenseInfo(), iter(answers)
        try:
            if "LicenseMarket" in deployed:
                info.terms_ids = [int(t) for t in _need(next(rest))]
                info.terms = [self._terms(deployed, t) for t in info.terms_ids]
            if "CreativeAssets" in deployed:
                info.token_id = hex(token_id(cid))
                registered, owner = _need(next(rest)), next(rest)
                info.registered = bool(registered)
                if info.registered:
                    info.owner = str(_need(owner))
            if "LineageRegistry" in deployed:
                model_id, dataset_ids = _need(next(rest))
                if model_id:
                    info.model = self._model(deployed, int(model_id))
                info.datasets = [self._dataset(deployed, int(d)) for d in dataset_ids]
        except MintloomError:
            return None
        return info

    def _sales(self, cid: str) -> list[SaleInfo]:
        """The token's sales from the Marketplace's events (read only)."""
        return [
            SaleInfo(buyer=x.buyer, seller=x.seller, price=str(x.price),
                     royalty=None if x.royalty is None else str(x.royalty), block=x.block, tx_hash=x.tx_hash)
            for x in sales(self.reader, token_id(cid))
        ]  # fmt: skip

    def _model(self, deployed: dict[str, str], onchain_id: int) -> ModelLineage:
        key = ("model", deployed["LineageRegistry"], onchain_id)
        if key not in self._known_lineage:
            m = model_info(self.reader, onchain_id)
            run = training_run(self.reader, self.blobs, onchain_id, self.anchors)
            self._known_lineage[key] = ModelLineage(
                id=m.onchain_id, trainer=m.trainer, license=m.license, training_run=run
            )
        return cast(ModelLineage, self._known_lineage[key])

    def _dataset(self, deployed: dict[str, str], onchain_id: int) -> DatasetLineage:
        key = ("dataset", deployed["LineageRegistry"], onchain_id)
        if key not in self._known_lineage:
            d = dataset_info(self.reader, onchain_id)
            self._known_lineage[key] = DatasetLineage(
                id=d.onchain_id,
                curator=d.curator,
                license=d.license,
                ai_training_allowed=d.ai_training_allowed,
            )
        return cast(DatasetLineage, self._known_lineage[key])

    def _terms(self, deployed: dict[str, str], terms_id: int) -> TermsInfo:
        if TERMS_CONTRACT not in deployed:
            self.reader.address_of(TERMS_CONTRACT)  # raises, naming it
        key = (deployed[TERMS_CONTRACT], terms_id)
        if key not in self._known_terms:
            name = next((n for n, i in FLAVOURS.items() if i == terms_id), None)
            self._known_terms[key] = TermsInfo(
                id=terms_id, name=name, **terms_of(self.reader, terms_id).model_dump()
            )
        return self._known_terms[key]


def training_run(
    reader: ChainReader, blobs: BlobStore | None, model_id: int, anchors: str | None = None
) -> TrainingRunLineage | None:
    """Model → signed run → dataset roots → contributor counts, each link checked against the
    chain (and the signer against ``anchors``); a broken link is named in ``failure``. None for
    a model registered without a run (or a registry that predates runs)."""
    from mintloom.ledger.training import run_of
    from mintloom.store.cid import cid_from_digest

    try:
        run_hash = bytes(reader.call("LineageRegistry", "trainingRun", model_id))
    except MintloomError:
        return None
    if run_hash == bytes(32):
        return None
    found = TrainingRunLineage(run_hash=run_hash.hex())
    if blobs is None:
        return found.model_copy(update={"error": "the signed run record is not available offline"})
    try:
        signed = run_of(reader, blobs, model_id)
    except UnknownTrainingRun as exc:  # not in this store (another organisation's run): unchecked here
        return found.model_copy(update={"error": f"UnknownTrainingRun: {exc.message}"})
    except (TrainingRecordError, BlobError) as exc:
        return found.model_copy(update={"error": exc.message, "failure": type(exc).__name__})
    except MintloomError as exc:  # the chain could not be read: nothing was shown to be wrong
        return found.model_copy(update={"error": exc.message})
    if signed is None:  # not reached: the run hash is not zero
        return found
    record = signed.parsed()
    run = found.model_copy(update={
        "record_cid": cid_from_digest(run_hash), "signature_valid": True, "weights_match": True,
        "method": record.method, "seed": record.seed, "base_model_hash": record.base_model_hash,
        "datasets": [_trained_dataset(reader, blobs, d) for d in record.datasets],
    })  # fmt: skip
    return _judge(run, signed.certificate_chain, anchors)


def _judge(run: TrainingRunLineage, chain_pem: str, anchors: str | None) -> TrainingRunLineage:
    """Name the first broken link of a readable run: an untrusted signer, a dataset the chain
    registered otherwise."""
    trusted = None if anchors is None else _signer_trusted(chain_pem, anchors)
    run = run.model_copy(update={"signer_trusted": trusted})
    failure: TrainingRecordError
    if trusted is False:
        failure = RunSignerUntrusted("the run record is signed by a key the trust anchor does not certify")
    elif bad := [d for d in run.datasets if not d.root_on_chain or d.manifest_on_chain is False]:
        failure = RunDatasetNotOnChain(
            f"dataset #{bad[0].id}: the run's root, count or manifest is not the one on chain"
        )
    else:
        return run
    return run.model_copy(update={"error": failure.message, "failure": type(failure).__name__})


def _signer_trusted(chain_pem: str, anchors: str) -> bool:
    from mintloom.provenance.keys import verify_chain

    try:
        verify_chain(chain_pem.encode(), anchors, dt.datetime.now(dt.UTC))
    except (CertificateChainError, ValueError):
        return False
    return True


def _trained_dataset(reader: ChainReader, blobs: BlobStore, use: DatasetUse) -> TrainedDataset:
    import hashlib
    import json

    from mintloom.ledger.datasets import onchain_root

    root, count, _curator = onchain_root(reader, use.registry_id)
    manifest_ok: bool | None = None
    try:
        manifest = blobs.get(use.manifest_cid)
        registered = bytes(reader.call("LineageRegistry", "dataset", use.registry_id)[0])
        listed = len(json.loads(manifest)["contributors"])
        manifest_ok = hashlib.sha256(manifest).digest() == registered and listed == use.contributors
    except (MintloomError, ValueError, KeyError, TypeError):
        manifest_ok = None
    return TrainedDataset(
        id=use.registry_id, root=use.root, file_count=use.count, contributors=use.contributors,
        root_on_chain=(root.hex(), count) == (use.root, use.count), manifest_on_chain=manifest_ok,
    )  # fmt: skip


def _licence_calls(deployed: dict[str, str], leaf_index: int, cid: str) -> list[ViewCall]:
    """The reads behind one asset's licence, for the contracts deployed (terms, registration and
    owner, lineage); ``ownerOf`` is asked with the rest and used only for a registered token."""
    calls = []
    if "LicenseMarket" in deployed:
        calls.append(ViewCall("LicenseMarket", "termsOfLeaf", (leaf_index,)))
    if "CreativeAssets" in deployed:
        token = token_id(cid)
        calls += [
            ViewCall("CreativeAssets", "isRegistered", (token,)),
            ViewCall("CreativeAssets", "ownerOf", (token,)),
        ]
    if "LineageRegistry" in deployed:
        calls.append(ViewCall("LineageRegistry", "lineageOf", (leaf_index,)))
    return calls


def _need(answer: T | None) -> T:
    if answer is None:
        raise LedgerError("a licence read failed")
    return answer


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
            ctx.chain = ReaderLookup(studio.chain_reader(), studio.blobs, ctx.trust_anchors_pem)
        except MintloomError as exc:
            ctx.chain_error = exc.message if exc.hint is None else f"{exc.message} ({exc.hint})"
    return ctx
