"""The exception tree.

One root, :class:`MintloomError`, with one branch per subsystem. Foreign exceptions
(web3, c2pa, sqlalchemy, OS errors) are translated where they enter mintloom with
``raise SubsystemError(...) from exc``; entry points (CLI, HTTP) catch only the root.
Every error carries a human message; ``exit_code`` is what the CLI exits with.
"""

from __future__ import annotations


class MintloomError(Exception):
    """Root of every error mintloom raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"


# --- configuration and workspace -------------------------------------------------------------
class ConfigError(MintloomError):
    """Invalid configuration file, environment variable or workspace layout."""

    exit_code = 2


class WorkspaceError(ConfigError):
    """No workspace where one is needed, or a broken one."""


class UnsafeBindError(ConfigError):
    """``mintloom serve`` asked to listen beyond loopback with no authentication configured."""


# --- campaign (spec, planning, execution) ---------------------------------------------------
class CampaignError(MintloomError):
    """Campaign spec, plan or run failed."""

    exit_code = 3


class SpecError(CampaignError):
    """The campaign spec or its inputs (audience rows, brand kit) are invalid."""


class UnsafeNameError(SpecError):
    """A name that becomes a path component (segment, template, format, locale) is not a safe slug."""


class UnsafeTextError(SpecError):
    """Spec or audience text carries control characters (NUL, ESC, ...) or expands without bound."""


class SpecInputError(SpecError):
    """A spec, audience or logo file is not a regular file, or exceeds its size or pixel cap."""


class ExecutionError(CampaignError):
    """A job failed while executing a plan."""


class ClusterError(ExecutionError):
    """The distributed executor cannot run: Ray is not installed (the ``mintloom[ray]`` extra), the
    cluster at ``ray.address`` cannot be reached, or a job was lost past its retries."""


class DynamicError(CampaignError):
    """A creative rendered on request (the spec's ``dynamic:`` section) cannot be served."""


class NotDynamicError(DynamicError):
    """The campaign is unknown to the render service or its spec has no ``dynamic:`` section."""


class DynamicVariableError(DynamicError):
    """A live variable is unknown or does not fit its declaration; ``field`` names it."""

    def __init__(self, message: str, *, field: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class RenderFailedError(DynamicError):
    """A render could not be served (its layout failed, or QA held it): the fallback is served."""


class RenderHeldError(RenderFailedError):
    """A render failed a blocking brand-QA rule: it is logged (held) and the fallback is served."""


class RenderURLError(DynamicError):
    """A render URL whose signature is missing, forged or altered, or whose ``exp`` has passed."""


class OutputPathError(ExecutionError):
    """An output path would resolve outside the workspace's output folder (e.g. through a symlink)."""


# --- engines --------------------------------------------------------------------------------
class EngineError(MintloomError):
    """A generator could not produce its artifact."""

    exit_code = 4


class UnknownFormatError(EngineError):
    """A format name that is not one of the named presets (:data:`mintloom.engines.base.FORMATS`)."""


class LayoutError(EngineError):
    """Text cannot be laid out in its box at any allowed size."""


class CopyTemplateError(EngineError):
    """A copy template failed, or exceeded the sandbox's limits (time, output size, range)."""


class ModelLoadError(EngineError):
    """A local model folder is missing, incomplete or not a pipeline this engine can load."""


class ModelResponseError(EngineError):
    """A model server's answer is unusable: not JSON, no image, not a decodable image, wrong size."""


class ImageBombError(ModelResponseError):
    """A returned image is larger (bytes or pixels) than the engine accepts: a pixel bomb."""


# --- provenance -----------------------------------------------------------------------------
class ProvenanceError(MintloomError):
    """Keys, Content Credentials, Merkle log or receipts."""

    exit_code = 5


class MetadataEmbedError(ProvenanceError):
    """A file could not take its XMP packet (not the format it claims, or too large)."""


class KeyStoreError(ProvenanceError):
    """Missing, unreadable or wrongly-protected key material (e.g. wrong password)."""


class SigningError(ProvenanceError):
    """Signing a Content Credential failed; the asset stays unsigned and is never marked signed."""


class TimeStampError(SigningError):
    """The RFC 3161 time-stamping authority (``provenance.tsa_url``) could not be reached or gave
    no usable time-stamp: nothing is signed, so no credential goes out without its trusted time."""


class SourceTypeMismatchError(SigningError):
    """A generation record's digital source type contradicts what it names (procedural output
    naming a trained model, or model output naming a procedural recipe): never signed."""


class ManifestError(ProvenanceError):
    """A C2PA manifest is missing, corrupted, foreign or does not validate."""


class LogError(ProvenanceError):
    """Merkle log append, proof or checkpoint failure (including proofs that do not verify)."""


class CertificateChainError(ProvenanceError):
    """A signer's certificate chain does not validate up to the trusted root under mintloom's
    profile; ``reason`` names why (see :class:`mintloom.provenance.keys.ChainFailure`)."""

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class DatasetError(ProvenanceError):
    """Dataset ingestion or a dataset membership proof failed."""


class DatasetInputError(DatasetError):
    """The folder, contributors CSV or opt-out list given to ``dataset ingest`` is unusable."""


class SymlinkEscapeError(DatasetInputError):
    """A symlink in a dataset folder points outside it: ingesting it would commit foreign files."""


class DatasetProofError(DatasetError):
    """A dataset inclusion proof is malformed, names other bytes, or does not reach its root."""


class TrainingRecordError(ProvenanceError):
    """A training-run record is malformed, altered after signing, or disagrees with the chain."""


class RunSignatureInvalid(TrainingRecordError):
    """A training-run record's signature is malformed or does not cover its record (altered)."""


class RunSignerUntrusted(TrainingRecordError):
    """A training-run record is signed by a key whose chain does not reach the trusted root."""


class RunWeightsMismatch(TrainingRecordError):
    """The training-run record names other weights than the model the chain binds it to."""


class RunTrainerMismatch(TrainingRecordError):
    """The model carrying a training run was registered by another party (or on another chain or
    registry) than the trainer the signed record names: somebody re-registered the run as theirs."""


class UnknownTrainingRun(TrainingRecordError):
    """The chain binds a model to a run hash that names no record in the store consulted."""


class RunDatasetNotOnChain(TrainingRecordError):
    """A dataset the training run names has another root, count or manifest on chain."""


class TrainingDataMismatch(DatasetInputError):
    """A file given for training is not the file the dataset committed to (changed, missing)."""


# --- ledger ---------------------------------------------------------------------------------
class LedgerError(MintloomError):
    """Chain node, contracts or the write-ahead journal."""

    exit_code = 6


class NodeError(LedgerError):
    """The managed anvil node cannot be found, started, reached or stopped."""


class LedgerInputError(LedgerError):
    """A file given to the ledger (datasheet, weights, ``deployments.json``) that is not a regular
    file (a device, FIFO or folder) or is over its size cap."""


class ContractError(LedgerError):
    """A contract call reverted; ``error_name`` is the decoded Solidity custom error if any."""

    def __init__(
        self,
        message: str,
        *,
        error_name: str | None = None,
        args: tuple[object, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_name = error_name
        self.error_args = args


class ChainMismatchError(LedgerError):
    """A JSON-RPC endpoint serves another chain (by chain id) than the one asked for: a
    ``deployments.json`` or a receipt's anchor names a chain the endpoint is not."""


class RangeRefusedError(LedgerError):
    """The provider refuses ``eth_getLogs`` even over a single block: the contracts' event logs
    cannot be read through it."""


class JournalError(LedgerError):
    """The ledger journal is inconsistent with the chain."""


class FeeCapError(LedgerError):
    """The chain's fee (base fee + tip) is above ``chain.max_fee_gwei``: nothing is sent."""


class NotDeployedError(LedgerError):
    """A mintloom contract is not deployed on this chain: nothing deploys implicitly, deploying
    is its own step (`mintloom deploy`, ``Studio.contracts()``)."""


class ContractsOutdatedError(LedgerError):
    """A contract recorded on this chain was deployed from other code than this mintloom ships
    (an upgrade changed the contracts): using it with today's ABI would fail or mislead."""


class FamilyMismatchError(LedgerError):
    """This chain already holds another campaign family's shares and DAO (one family per chain)."""


class ChainResetError(JournalError):
    """The chain no longer holds the history the journal recorded and the journal cannot replay
    it (another chain under the same id, a wiped node): nothing is redeployed without being told."""


# --- governance and market ------------------------------------------------------------------
class GovernanceError(MintloomError):
    """License terms, license gating and royalty splits."""

    exit_code = 7


class LicenseViolation(GovernanceError):
    """A job would use an ingredient against its license terms."""


class UntrustedIngredient(LicenseViolation):
    """A dataset or model entry on chain was registered by another party than the one expected
    (the workspace's account or the pinned curator/trainer): its terms cannot be relied on."""


class LineageMismatch(LicenseViolation):
    """The campaign names a trained model but runs other weights than the ones registered for it."""


class NearCopyError(GovernanceError):
    """A remix submitted for a UGC reward is the same picture as its parent by fingerprint (a
    re-signed or re-encoded copy): it earns nothing."""


class DaoError(GovernanceError):
    """A campaign family's Creative DAO: fractional shares, proposals and votes."""


class CampaignAlreadyPublishedError(DaoError):
    """The campaign's leaves already carry a royalty split naming the brand: fractionalising now
    would leave their revenue with the brand, so it is refused (fractionalise before publishing)."""


class ProposalNotFoundError(DaoError):
    """No proposal of the family's governor matches the reference given."""


class ProposalStateError(DaoError):
    """The proposal is not in the state the step needs (vote while active, queue once succeeded…)."""


class AlreadyVotedError(DaoError):
    """This account already voted on the proposal."""


class NoVotingPowerError(DaoError):
    """The account had no delegated shares at the proposal's snapshot: its vote would count zero."""


class TreasuryTooSmallError(DaoError):
    """The DAO treasury (its timelock) holds less ETH than the proposal spends."""


class NotEmbeddedChainError(DaoError):
    """Moving time or blocks is refused on any chain but the workspace's embedded anvil node."""


class UnsignedParentError(GovernanceError):
    """A remix's parent carries no Content Credential: there is no signed asset to name as parentOf."""


class RewardRefusedError(GovernanceError):
    """``UGCRewards`` refuses a derivative's reward; the subclass names why."""


class DuplicateChildError(RewardRefusedError):
    """This child already earned its reward (one reward per child CID)."""


class NoLicenceError(RewardRefusedError):
    """The creator holds no licence of the parent under terms that are attached and allow derivatives."""


class ParentNotInFamilyError(RewardRefusedError):
    """The child's parent is not a registered asset of the family (or the child is no derivative)."""


class RewardBudgetError(RewardRefusedError):
    """Rewards are off, or the creator's cap this epoch, the budget or the pool is exhausted."""


class ChildNotProvenError(RewardRefusedError):
    """The child is not in an anchored checkpoint of the log it is claimed from (or that log is no
    ProvenanceLog): a forged or stale proof."""


class NotLogOwnerError(RewardRefusedError):
    """The child's log belongs to another organisation: only its admin earns from its leaves."""


class NotAttestedError(RewardRefusedError):
    """The family's DAO named an attester and it has not attested this child."""


class AttestedForAnotherError(RewardRefusedError):
    """The attester attested this child for another creator (or as a remix of another parent):
    a copy of someone else's child, submitted from a log of the copier's own, earns nothing."""


class AttestationRefusedError(GovernanceError):
    """The UGC attester refuses to vouch for a child; the subclass names why."""


class ChildCredentialError(AttestationRefusedError):
    """The child carries no Content Credential whose signature is valid, untampered and signed by
    a key the given trust anchor certifies."""


class ParentNotIngredientError(AttestationRefusedError):
    """The child's credential does not name the given parent (its signed manifest) as its
    ``parentOf`` ingredient."""


class ParentCredentialError(AttestationRefusedError):
    """The parent file's own Content Credential is missing, fails validation (e.g. its pixels are
    not the ones its manifest hashes: a genuine manifest pasted onto other pixels), or its signer
    does not chain to the attester's trust anchors."""


class NoCreatorNamedError(AttestationRefusedError):
    """The child's signed credential names no creator account, so there is nobody to attest it for."""


class NotAttesterError(AttestationRefusedError):
    """This account is not the attester the family's DAO named."""


class AlreadyAttestedError(AttestationRefusedError):
    """The child was attested before for another creator or parent (attestations are final)."""


class RegistrantMismatch(GovernanceError):
    """A dataset or model name is already held by another registrant; ``holder`` is its address."""

    def __init__(self, message: str, *, holder: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.holder = holder


class ReviewError(GovernanceError):
    """Human-on-the-loop review: sampling, signed approvals, the publish gate."""


class ReviewRequiredError(ReviewError):
    """``governance.require_review`` is set and a group is unreviewed, rejected or stale."""


class ForgedReviewError(ReviewError):
    """A review record whose signature, signer, campaign, group or sample does not check out."""


class StaleReviewError(ReviewError):
    """The group's assets changed after its sample was drawn or approved: it needs a new review."""


class MarketError(MintloomError):
    """Licence purchases and the marketplace's signed orders."""

    exit_code = 8


class OrderExpired(MarketError):
    """The order's expiry has passed on the chain's clock: it can no longer fill."""


class WrongChain(MarketError):
    """The order was signed for another chain id: its signature fills nowhere else."""


class WrongMarketplace(MarketError):
    """The order was signed for another Marketplace contract than this chain's."""


class PriceMismatch(MarketError):
    """The price the buyer agreed to is not the order's price."""


class OrderClosed(MarketError):
    """The order was cancelled, filled, made stale by a bulk cancel, or its item is gone."""


class UnprovenLeaf(MarketError):
    """The asset cannot be proven in the listing's anchored checkpoint (not in the log, not in
    its catalog, or a proof the anchored root rejects)."""


class ForeignRoot(MarketError):
    """The proof leads to another root than the listing's (another campaign's catalog, another log)."""


class NotHolder(MarketError):
    """The sender does not hold what it lists or sells (the token, or enough licences of a lot)."""


class InsufficientFunds(MarketError):
    """The payer's ERC-20 balance or allowance does not cover the price."""


class TermsNotAttached(MarketError):
    """The licence terms a listing sells are not attached to the asset (or have expired)."""


class UnknownShareToken(MarketError):
    """The ERC-20 of a share lot is not a share token the Marketplace trades: only a family's
    RoyaltyShares that mintloom deployed (and registered) are listed, never an arbitrary ERC-20."""


class ShareTokenCurrency(MarketError):
    """A share token the Marketplace trades is named as a price currency: the Marketplace's
    allowance of it is the seller's open share lots (one rule sets it), so an offer, listing or
    purchase priced in it would spend, or be cut by, that allowance."""


class InexactSharePrice(MarketError):
    """A share lot's price in wei is not exact for that many share units: it would round (dust)."""


# --- verification ---------------------------------------------------------------------------
class VerifyError(MintloomError):
    """Verification could not run at all (a bad verdict is a result, not an error)."""

    exit_code = 9


class VerifyInputError(VerifyError):
    """The file to verify is not a regular file or exceeds the size cap."""


class ImageTooLargeError(VerifyInputError):
    """An image's header declares more pixels than verification decodes (a decompression bomb)."""


# --- storage --------------------------------------------------------------------------------
class StoreError(MintloomError):
    """Catalog database or blob store."""

    exit_code = 10


class CatalogError(StoreError):
    """The catalog database failed or holds inconsistent data."""


class CatalogOutdatedError(CatalogError):
    """The catalog's schema is older than this mintloom and was opened read-only (a read path never
    migrates): ``mintloom db upgrade`` brings it to the current schema."""


class CatalogTooNewError(CatalogError):
    """The catalog's schema revision is unknown to this mintloom: a newer release migrated it."""


class PrivateKindError(CatalogError):
    """An asset of a kind that is never public (personalised copy) asked to be made public."""


class SearchQueryError(StoreError):
    """A tag search query that is not ``key:value`` terms of known keys."""


class BlobError(StoreError):
    """A blob is missing or its bytes do not match its CID."""


class BlobNotFoundError(BlobError):
    """No blob is stored under the CID asked for."""


class BlobCorruptedError(BlobError):
    """The bytes stored under a CID do not hash to that CID (tampered with, truncated or swapped)."""


class MalformedDagError(BlobError):
    """A block read as a folder is not the dag-pb / UnixFS IPFS writes (forged, truncated or foreign:
    a broken protobuf, a HAMT with another hash function or fanout)."""


class TokenError(StoreError):
    """An API token that cannot be created or revoked as asked (bad name or scope, duplicate, unknown)."""
