"""Verify a file: Content Credential, ingredient chain, log receipt, chain anchor, licence.

One function, :func:`verify_bytes`, used by ``mintloom verify`` and the HTTP API. It never
raises for bad input: every problem becomes a failed check with the verdict it implies.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from cryptography import x509

from mintloom.errors import (
    CertificateChainError,
    ForgedReviewError,
    MintloomError,
    ProvenanceError,
    VerifyError,
    VerifyInputError,
)
from mintloom.provenance import text_wrapper
from mintloom.provenance.commitments import salted_commitment
from mintloom.provenance.content_credentials import (
    CredentialReport,
    embeds,
    read_credentials,
    rejoin_text,
    sha256_hex,
)
from mintloom.provenance.log import Receipt, SignedCheckpoint
from mintloom.provenance.review import verified_decision
from mintloom.store.annotations import Annotations
from mintloom.store.cid import CHUNK_SIZE, cid_for, raw_cid
from mintloom.store.files import MAX_SIDECAR_BYTES, MAX_SMALL_TEXT_BYTES, MAX_VERIFY_BYTES, read_regular
from mintloom.store.reviews import Reviews, members_digest
from mintloom.verify.report import (
    CredentialStatus,
    CredentialSummary,
    Status,
    TrainingRunLineage,
    Verdict,
    VerifyReport,
)

if TYPE_CHECKING:
    from mintloom.provenance.credentials import GenerationRecord
    from mintloom.provenance.log import TransparencyLog
    from mintloom.provenance.review import Reviewer
    from mintloom.store.blobs import BlobStore
    from mintloom.store.catalog import Catalog
    from mintloom.store.db import Database
    from mintloom.verify.facts import CatalogFacts
    from mintloom.verify.index import FingerprintIndex, Match
    from mintloom.verify.lookup import ChainLookup

T = TypeVar("T")
LICENCE_BATCH = 256
"""Files of a folder whose licences are read together (their reports are yielded after it)."""
MEDIA_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".wav", ".flac", ".txt"}


def sniff(data: bytes, name: str = "") -> str | None:
    """Media type by magic bytes (extension only decides between text and nothing)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if name.lower().endswith(".txt"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # a signed text damaged into non-UTF-8 (cut mid-character, a byte flipped) is still text
            return "text/plain" if text_wrapper.carries_wrapper(data) else None
        return None if "\x00" in text else "text/plain"
    return None


@dataclass
class VerifyContext:
    """What a verification can consult. Everything is optional: with nothing but the trust
    anchors a file's own credential is still checked. The caller builds it (see
    :meth:`mintloom.studio.Studio.verify_context`); ``chain`` None is offline."""

    trust_anchors_pem: str | None = None
    catalog: Catalog | None = None
    log: TransparencyLog | None = None
    blobs: BlobStore | None = None
    chain: ChainLookup | None = None
    chain_error: str | None = None
    """Why ``chain`` is None although online verification was asked for (shown in the report)."""
    out_dir: Path | None = None
    """The workspace's output folder: a folder verified in it is checked for missing exports."""
    retired: dict[int, dt.datetime] = field(default_factory=dict)
    """Retired signer certificates (serial → retirement time): the workspace's rotation records,
    or the CA-signed retirement list in a ``--trust`` file."""
    tsa_anchors_pem: str | None = None
    """Roots trusted for RFC 3161 time-stamps only (``provenance.tsa_roots``), never for signers."""
    facts: CatalogFacts | None = field(default=None, repr=False)
    """The catalog's facts about the chunk of a folder being verified (see :func:`verify_many`)."""
    _index: tuple[FingerprintIndex, list[str]] | None = field(default=None, repr=False)
    _settled: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    _settling: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """Answers that cannot change once known, per checkpoint (the assets of one run share it):
    the log's root at a size it reached, a checkpoint's signature and trust decision, an
    anchored root and its block time. A folder then checks each checkpoint once, not per file."""

    def settled(self, key: tuple[object, ...], compute: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """``compute()``, remembered under ``key`` when ``keep`` says the answer is final."""
        with self._settling:  # threads of one folder wait for the first answer, not race it
            if key in self._settled:
                return cast(T, self._settled[key])
            value = compute()
            if keep(value):
                self._settled[key] = value
            return value

    def fingerprint_index(self) -> tuple[FingerprintIndex, list[str]] | None:
        """Built at the first stripped file that needs it (a folder of signed files never does);
        threads wait for the one building it."""
        with self._settling:
            if self._index is None and self.catalog is not None:
                self._index = _index_of(self.catalog.fingerprint_pages())
            return self._index


def _index_of(pages: Iterable[list[tuple[str, int, int]]]) -> tuple[FingerprintIndex, list[str]]:
    """The index of (CID, pHash, dHash) rows read a page at a time, ids numbering the CIDs in
    sorted order (as when the whole table was read at once, so matches tie-break alike)."""
    import numpy as np

    from mintloom.verify.index import FingerprintIndex as Index

    pos: dict[str, int] = {}  # CID → id in reading order, renumbered below
    ids, ph, dh = [np.zeros(0, np.int64)], [np.zeros(0, np.uint64)], [np.zeros(0, np.uint64)]
    for page in pages:
        n = len(page)
        ids.append(np.fromiter((pos.setdefault(c, len(pos)) for c, _, _ in page), np.int64, n))
        ph.append(np.fromiter((p for _, p, _ in page), np.uint64, n))
        dh.append(np.fromiter((d for _, _, d in page), np.uint64, n))
    cids = sorted(pos)
    rank = np.empty(len(cids), np.int64)
    rank[[pos[c] for c in cids]] = np.arange(len(cids))
    return Index.build(rank[np.concatenate(ids)], np.concatenate(ph), np.concatenate(dh)), cids


def _credential_checks(
    report: VerifyReport, cred: CredentialReport, anchors: str | None, label: str = "credential"
) -> bool:
    """Record the credential checks; True if the credential binds the file to a trusted signer."""
    if cred.error:
        report.add(label, "fail", cred.error, Verdict.TAMPERED)
        return False
    if not cred.hash_binding_valid:
        bad = ", ".join(f for f in cred.failures if "mismatch" in f) or "content hash mismatch"
        report.add(
            "hash binding", "fail", f"the content no longer matches what was signed ({bad})", Verdict.TAMPERED
        )
        return False
    report.add("hash binding", "pass", "the content is exactly what was signed")
    if not _signature_check(report, cred):
        return False
    if not cred.trusted:
        why = (
            "no trust anchors are known here (outside a workspace): pass --trust PEM to check who signed it"
            if anchors is None
            else _EXPIRED
            if cred.signer_expired
            else "it does not chain to a trusted root (a foreign organisation or an unknown key)"
        )
        detail = f"valid but untrusted signer {_signer_name(cred)}: {why}"
        report.add("trust", "fail", detail, Verdict.UNTRUSTED)
        return False
    report.add("trust", "pass", f"signer {cred.signer!r} chains to the trusted root")
    bad_ing = [i for i in cred.ingredients if not i.valid]
    if bad_ing:
        names = ", ".join(f"{i.title} ({', '.join(i.failures) or 'no manifest'})" for i in bad_ing)
        report.add("ingredients", "fail", f"ingredient credentials invalid: {names}", Verdict.UNTRUSTED)
        return False
    if cred.ingredients:
        report.add("ingredients", "pass", f"{len(cred.ingredients)} ingredient credential(s) valid")
    return True


_EXPIRED = (
    "its certificate has expired, and no time-stamp from a trusted TSA shows the claim was "
    "signed while it was valid"
)


def _time_checks(report: VerifyReport, cred: CredentialReport) -> None:
    """When the claim was signed: an RFC 3161 time-stamp by a trusted TSA is evidence (and keeps
    the credential valid after the signer certificate expires); without one, a warning."""
    report.time_stamp = cred.time_stamp
    if cred.time_stamp is None:
        report.add(
            "signing time",
            "warn",
            "no RFC 3161 time-stamp: the signing time is unattested, and the credential stops "
            "validating when the signer certificate expires (set provenance.tsa_url)",
        )
        return
    if cred.time_stamp == "invalid":
        report.add(
            "signing time",
            "warn",
            f"the time-stamp does not belong to this claim signature ({cred.time_stamp_problem}): "
            "moved from another credential or altered, it is ignored",
        )
        return
    when = _utc(cred.signed_at) if cred.signed_at is not None else "an unreadable time"
    by = f" by {cred.time_stamp_authority}" if cred.time_stamp_authority else ""
    if cred.time_stamp == "trusted":
        report.signed_at = cred.signed_at
        report.add("signing time", "pass", f"signed at {when}, time-stamped{by} (a trusted TSA)")
        return
    report.add(
        "signing time",
        "warn",
        f"time-stamped{by} at {when}, but that TSA does not chain to a trusted TSA root "
        "(provenance.tsa_roots): the time is not evidence",
    )


def _signature_check(report: VerifyReport, cred: CredentialReport) -> bool:
    """The claim signature: a mismatch means the claim was altered after signing (TAMPERED); an
    invalid signing credential is UNTRUSTED."""
    codes = ", ".join(cred.failures) or "no claim signature validated"
    if cred.claim_altered:
        detail = f"the signed claim was altered after signing: its signature no longer matches ({codes})"
        report.add("signature", "fail", detail, Verdict.TAMPERED)
        return False
    if cred.credential_invalid:
        why = _EXPIRED if cred.signer_expired else "claim signature or signing credential invalid"
        detail = f"{why} ({codes})"
        report.add("signature", "fail", detail, Verdict.UNTRUSTED)
        return False
    report.add("signature", "pass", f"claim signature valid, signed by {_signer_name(cred)}")
    return True


def _signer_name(cred: CredentialReport) -> str:
    return repr(cred.signer_info.subject or cred.signer or "an unnamed signer")


def _credential_status(cred: CredentialReport) -> CredentialStatus:
    """One word for a credential, whoever signed it."""
    if cred.error:
        return "unreadable"
    if not cred.hash_binding_valid or cred.claim_altered:
        return "tampered"
    if cred.credential_invalid:
        return "invalid"
    return "trusted" if cred.trusted else "valid-untrusted"


def _summarise(report: VerifyReport, cred: CredentialReport) -> None:
    """Who signed the credential, with what, and the actions it states (any signer's)."""
    report.credential = CredentialSummary(
        status=_credential_status(cred),
        signer=cred.signer_info,
        actions=cred.action_details,
        failures=cred.failures,
    )


def _describe(report: VerifyReport, cred: CredentialReport) -> None:
    if cred.generation is not None:
        g = cred.generation
        report.origin = {
            "engine": f"{g.engine} {g.engine_version}",
            "model": g.model_id,
            "model_hash": g.model_hash,
            "recipe": g.recipe,
            "datasets": list(g.dataset_ids),
            "template_hash": g.template_hash,
            "seed_commitment": g.seed_commitment,
            "campaign": g.campaign,
            "locale": g.locale,
            "format": g.format,
            "source_type": str(g.source_type).rsplit("/", 1)[-1],
            "ai_training": g.ai_training,
        }
        if g.caption_model_id is not None:  # the model that described the picture for its alt text
            report.origin |= {"caption_model": g.caption_model_id, "caption_model_hash": g.caption_model_hash}
        if g.creator_account is not None:  # a remix's creator, whom UGC rewards pay
            report.origin["creator_account"] = g.creator_account
    report.history = [{"action": a} for a in cred.actions] + [
        {"ingredient": i.title, "relationship": i.relationship, "valid": i.valid, "signer": i.signer}
        for i in cred.ingredients
    ]


def _find_receipt(
    report: VerifyReport, ctx: VerifyContext, subject: str, given: Receipt | None
) -> Receipt | None:
    """The receipt given, else the workspace log's for ``subject``; a skipped check if there is none."""
    receipt = given
    if receipt is None and ctx.log is not None:
        try:
            stored = ctx.facts.receipts if ctx.facts is not None else {}
            receipt = stored[subject] if subject in stored else ctx.log.receipt(subject)
        except MintloomError as exc:
            report.add("log receipt", "skip", f"catalog unavailable: {exc.message}")
            return None
    if receipt is None:
        report.add("log receipt", "skip", "no receipt for this asset here (pass --receipt FILE)")
    return receipt


def _receipt_checks(
    report: VerifyReport, ctx: VerifyContext, subject: str, manifest_hash: str | None, given: Receipt | None
) -> Receipt | None:
    receipt = _find_receipt(report, ctx, subject, given)
    if receipt is None:
        return None
    if receipt.cid != subject:
        report.add(
            "log receipt", "fail", f"the receipt is for another asset ({receipt.cid})", Verdict.UNTRUSTED
        )
        return None
    if manifest_hash is not None and receipt.manifest_hash != manifest_hash:
        report.add(
            "log receipt",
            "fail",
            "the receipt names a different manifest than the file carries",
            Verdict.UNTRUSTED,
        )
        return None
    if not receipt.verify():
        report.add(
            "inclusion proof",
            "fail",
            "the inclusion proof does not lead to the checkpoint root",
            Verdict.UNTRUSTED,
        )
        return None
    report.add(
        "inclusion proof", "pass", f"leaf {receipt.leaf_index} is in the log of size {receipt.tree_size}"
    )
    if not _same_log(report, ctx, receipt) or not _checkpoint_check(report, receipt, ctx):
        return None
    report.receipt = {
        "leaf_index": receipt.leaf_index,
        "tree_size": receipt.tree_size,
        "root": receipt.checkpoint.root,
        "anchor": receipt.anchor.model_dump() if receipt.anchor else None,
    }
    return receipt


def _same_log(report: VerifyReport, ctx: VerifyContext, receipt: Receipt) -> bool:
    """In a workspace, a checkpoint of a size its log reached must have the log's root at that size:
    another root signed for the same size is a forked log (e.g. signed with a retired key)."""
    log = ctx.log
    if log is None:
        return True

    def root_at_size() -> str | None:  # None: the log has not reached the size (yet)
        log.refresh()
        return None if receipt.tree_size > log.size else log.root(receipt.tree_size).hex()

    root = ctx.settled(("log root", receipt.tree_size), root_at_size, lambda r: r is not None)
    if root is None or root == receipt.checkpoint.root:
        return True
    why = f"the receipt's checkpoint of size {receipt.tree_size} has another root than this workspace's log"
    report.add("checkpoint", "fail", f"{why} at that size: a forked or forged log", Verdict.UNTRUSTED)
    return False


def _checkpoint_check(report: VerifyReport, receipt: Receipt, ctx: VerifyContext) -> bool:
    """The checkpoint is signed by a signer whose whole chain validates up to the trusted root and
    who was not retired at the (self-declared) time it claims."""
    anchors = ctx.trust_anchors_pem
    if anchors is None:
        report.add(
            "checkpoint",
            "fail",
            "no trust anchors: the checkpoint's signer cannot be trusted",
            Verdict.UNTRUSTED,
        )
        return False
    cp = receipt.checkpoint
    key = ("checkpoint", cp.model_dump_json(), anchors, tuple(sorted(ctx.retired.items())))
    failure = ctx.settled(key, lambda: _checkpoint_failure(cp, anchors, ctx.retired), lambda _: True)
    if failure is not None:
        report.add("checkpoint", "fail", failure, Verdict.UNTRUSTED)
        return False
    report.add(
        "checkpoint",
        "pass",
        "checkpoint signed by the trusted log operator (at the time it "
        "claims, which only an on-chain anchor bounds)",
    )
    return True


def _checkpoint_failure(cp: SignedCheckpoint, anchors: str, retired: dict[int, dt.datetime]) -> str | None:
    """Why ``cp`` is not a trusted checkpoint, or None (its signature and signer chain check out)."""
    try:
        cp.check(anchors, retired)
    except CertificateChainError as exc:
        return f"the checkpoint's signer is not trusted: {exc.message}"
    except ProvenanceError as exc:
        return f"the checkpoint signature is invalid: {exc.message}"
    return None


def _retired_credential(
    report: VerifyReport, ctx: VerifyContext, cred: CredentialReport, receipt: Receipt | None
) -> None:
    """A credential signed by a retired signer carries no trusted signing time: only a trusted
    checkpoint signed before the retirement proves it was made while the key was current."""
    at = ctx.retired.get(cred.signer_serial) if cred.signer_serial is not None else None
    if at is None:
        return
    if cred.time_stamp == "trusted" and cred.signed_at is not None and cred.signed_at < at:
        report.add(
            "retired signer",
            "pass",
            f"signed with a signer retired at {_utc(at)}, time-stamped by a trusted TSA before that",
        )
        return
    if receipt is not None and receipt.checkpoint.signed_at() < at:
        report.add(
            "retired signer",
            "pass",
            f"signed with a signer retired at {_utc(at)}, "
            "and logged in a checkpoint from before its retirement",
        )
        return
    report.add(
        "retired signer",
        "fail",
        f"the credential is signed with a signer certificate retired at "
        f"{_utc(at)}, and no trusted checkpoint from before the retirement proves "
        "it was signed earlier",
        Verdict.UNTRUSTED,
    )


def _utc(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S}Z"


CLOCK_SKEW = dt.timedelta(seconds=60)
"""How far a signer's clock may run ahead of the chain's block time: a checkpoint signed a second
before its anchor can claim a second after the block (anvil's clock lagged the host's by one)."""


def _anchor_time_check(report: VerifyReport, ctx: VerifyContext, receipt: Receipt, log: str | None) -> bool:
    """The anchoring block bounds the checkpoint's self-declared time: it cannot have been signed
    later, and its signer certificate must still have been valid when it was anchored (else a
    holder of an expired key could backdate a checkpoint and have it anchored now)."""
    chain = ctx.chain
    if chain is None:
        return True
    try:
        hint = receipt.anchor.block if receipt.anchor is not None and log is not None else None
        anchored = ctx.settled(
            ("anchored at", chain.chain_id, receipt.tree_size, log),
            lambda: chain.anchored_at(receipt.tree_size, log, hint),
            lambda a: a is not None,
        )
    except MintloomError as exc:
        report.add("anchor time", "skip", f"cannot read when it was anchored: {exc.message}")
        return True
    if anchored is None:
        report.add("anchor time", "skip", "no anchoring event found for this checkpoint")
        return True
    claimed, chain_pem = receipt.checkpoint.signed_at(), receipt.checkpoint.signer_chain
    expires = ctx.settled(("signer expiry", chain_pem), functools.partial(_leaf_expiry, chain_pem), bool)
    if claimed > anchored + CLOCK_SKEW:
        why = f"claims {_utc(claimed)}, after the block that anchored it ({_utc(anchored)})"
    elif anchored > expires:
        why = (
            f"was anchored at {_utc(anchored)}, after its signer certificate expired "
            f"({_utc(expires)}): the earlier time it claims is not evidence"
        )
    else:
        report.add(
            "anchor time",
            "pass",
            f"signed no later than block time {_utc(anchored)}, while its signer certificate was valid",
        )
        return True
    report.add("anchor time", "fail", f"the checkpoint {why}", Verdict.UNTRUSTED)
    return False


def _leaf_expiry(chain_pem: str) -> dt.datetime:
    return x509.load_pem_x509_certificates(chain_pem.encode())[0].not_valid_after_utc


def _chain_checks(report: VerifyReport, ctx: VerifyContext, receipt: Receipt) -> Receipt | None:
    """The anchor checks; returns ``receipt`` when they pass (its licence is then read, in a batch)."""
    if ctx.chain is None:
        why = "offline" if ctx.chain_error is None else f"chain unavailable: {ctx.chain_error}"
        report.add("anchor", "skip", why)
        return None
    chain = ctx.chain
    # a log address pinned by the lookup's records stays pinned (asked once, not per file)
    pinned = ctx.settled(("pins log", chain.chain_id), lambda: chain.pins_log, bool)
    anchor = receipt.anchor
    if anchor is not None and anchor.chain_id != chain.chain_id and not pinned:
        why = f"anchored on chain {anchor.chain_id}, but the endpoint given serves chain {chain.chain_id}"
        report.add("anchor", "skip", f"{why}: pass an RPC URL of chain {anchor.chain_id}")
        return None
    claimed = anchor.contract if anchor is not None and anchor.chain_id == chain.chain_id else None
    try:
        # an anchored root is final; "not anchored" may change, so it is asked again
        root = ctx.settled(
            ("anchored root", chain.chain_id, receipt.tree_size, claimed),
            lambda: chain.anchored_root(receipt.tree_size, claimed),
            lambda r: r is not None,
        )
    except MintloomError as exc:
        report.add("anchor", "skip", f"cannot read the chain: {exc.message}")
        return None
    if root is None:
        if receipt.anchor is None:
            report.add("anchor", "skip", f"checkpoint {receipt.tree_size} is not anchored yet")
        else:
            report.add(
                "anchor",
                "fail",
                f"the chain has no checkpoint of size {receipt.tree_size}",
                Verdict.UNTRUSTED,
            )
        return None
    if root != receipt.checkpoint.root:
        report.add("anchor", "fail", "the chain anchors a different root for this size", Verdict.UNTRUSTED)
        return None
    if not _anchor_time_check(report, ctx, receipt, claimed):
        return None
    where = f" in tx {receipt.anchor.tx_hash}" if receipt.anchor else ""
    caveat = "" if pinned else " (contract address taken from the receipt; pin it with --contracts)"
    detail = f"checkpoint {receipt.tree_size} anchored on chain {chain.chain_id}{where}{caveat}"
    report.add("anchor", "pass", detail)
    return receipt


def _read_licences(
    ctx: VerifyContext, pending: Sequence[tuple[VerifyReport, Receipt | None]], *, detail: bool = False
) -> None:
    """Each anchored asset's licence, asked of the chain for all of ``pending`` at once (``detail``:
    one file verified on its own, with its sales and reward)."""
    asked = [(report, receipt) for report, receipt in pending if receipt is not None]
    if ctx.chain is None or not asked:
        return
    try:
        found = ctx.chain.licenses([(receipt.leaf_index, receipt.cid) for _, receipt in asked], detail=detail)
    except MintloomError:  # the licence is extra information: unreadable contracts leave it out
        found = [None] * len(asked)
    for (report, _), info in zip(asked, found, strict=True):
        report.license = info
        if info is not None and info.model is not None and info.model.training_run is not None:
            _training_check(report, info.model.id, info.model.training_run)
            report.decide()


def _training_check(report: VerifyReport, model_id: int, run: TrainingRunLineage) -> None:
    """The training run the chain binds to the asset's model: a broken link (altered or foreign
    record, other weights, squatted registration, dataset not on chain) makes the asset's
    lineage untrustworthy; a record that cannot be consulted here only warns."""
    if run.failure is not None:
        detail = f"model #{model_id}: {run.failure}: {run.error}"
        report.add("training run", "fail", detail, Verdict.UNTRUSTED)
    elif run.error is not None:
        report.add("training run", "warn", f"model #{model_id}: {run.error}")
    else:
        roots = ", ".join(
            f"dataset #{d.id} root {d.root[:16]}… ({d.contributors} contributors)" for d in run.datasets
        )
        report.add("training run", "pass", f"model #{model_id} ← run {run.record_cid} ← {roots}")


def verify_bytes(
    data: bytes,
    name: str,
    ctx: VerifyContext,
    *,
    sidecar: bytes | None = None,
    receipt: Receipt | None = None,
) -> VerifyReport:
    """Verify one file's bytes. Never raises for bad input: problems become failed checks."""
    report, anchored = _verify(data, name, ctx, sidecar=sidecar, receipt=receipt)
    _read_licences(ctx, [(report, anchored)], detail=True)
    return report


def _verify(
    data: bytes,
    name: str,
    ctx: VerifyContext,
    *,
    sidecar: bytes | None = None,
    receipt: Receipt | None = None,
    cid: str | None = None,
) -> tuple[VerifyReport, Receipt | None]:
    """:func:`verify_bytes` but the licence, with the receipt whose licence is to be read (None:
    not anchored here). ``cid``: ``cid_for(data)`` if the caller computed it."""
    report, anchored = VerifyReport(file=name), None
    # a sidecar says the file is a text asset, even if its bytes were damaged into non-UTF-8
    media_type = sniff(data, name) or ("text/plain" if sidecar is not None else None)
    report.media_type = media_type
    if media_type is None:
        report.add(
            "format", "fail", "not a supported media file (PNG, JPEG, WAV, FLAC or text)", Verdict.UNKNOWN
        )
        report.decide()
        return report, None
    anchors, given = ctx.trust_anchors_pem, data
    data, cred = _read_file(report, data, media_type, anchors, sidecar, tsa=ctx.tsa_anchors_pem)
    report.cid = _logged_cid(ctx, data, receipt, cid if data is given else None)
    bound = _bind(report, ctx, data, media_type, cred, cid=report.cid)
    if bound is not None:
        _lineage(report, ctx, bound[0])
        _annotations(report, ctx, bound[0])
        _review(report, ctx, bound[0])
        rec = _receipt_checks(report, ctx, bound[0], bound[1], receipt)
        if rec is not None:
            anchored = _chain_checks(report, ctx, rec)
        if report.binding == "hard":
            if rec is None and receipt is None:
                _unlogged_copy(report, ctx, cred, bound[0])
            _retired_credential(report, ctx, cred, rec)
    report.decide()
    return report, anchored


def _annotations(report: VerifyReport, ctx: VerifyContext, cid: str) -> None:
    """The catalog's QA report and tags of the asset (they inform; they never change the verdict)."""
    if ctx.catalog is None:
        return
    notes, known = Annotations(ctx.catalog.db), ctx.facts
    try:
        row = known.qa[cid] if known is not None and cid in known.qa else notes.qa(cid)
        report.tags = known.tags[cid] if known is not None and cid in known.tags else notes.tags(cid)
    except MintloomError:
        return  # the receipt check reports an unavailable catalog
    if row is not None:
        report.qa = json.loads(row.report)
        held = "held by a blocking rule" if row.held else "passed every blocking rule"
        report.add("brand QA", "warn" if row.held else "pass", held)


def _review(report: VerifyReport, ctx: VerifyContext, cid: str) -> None:
    """Who approved or rejected the asset's review group, from the signed record (informs only)."""
    if ctx.catalog is None or ctx.trust_anchors_pem is None:
        return
    db, known = ctx.catalog.db, ctx.facts
    try:
        reviewer = _decision_of(db, known, cid, ctx.trust_anchors_pem)
        if reviewer is None:
            return
        campaign = reviewer.record.campaign
        groups = known.members(db, campaign) if known is not None else Reviews(db).groups(campaign)
    except ForgedReviewError as exc:
        report.add("review", "warn", f"review record refused: {exc}")
        return
    except MintloomError:
        return
    rec = reviewer.record
    report.review = {"reviewer": reviewer.name, "at": rec.at, "decision": rec.decision, "group": rec.group}
    verb = "approved" if rec.decision == "approve" else "rejected"
    members = groups.get(rec.group, [])
    covered = cid in members and rec.members == members_digest(members)
    status: Status = "pass" if covered and rec.decision == "approve" else "warn"
    stale = "" if covered else " (the group changed since)"
    report.add("review", status, f"{verb}: reviewed by {reviewer.name} on {rec.at[:10]}{stale}")


def _decision_of(db: Database, known: CatalogFacts | None, cid: str, anchors: str) -> Reviewer | None:
    """The verified decision on the asset's review group (a chunk's facts check each group once)."""
    found = known.groups[cid] if known is not None and cid in known.groups else Reviews(db).group_of(cid)
    if found is None:
        return None
    if known is not None:
        return known.decision(db, *found, anchors)
    return verified_decision(db, *found, anchors)


def _bind(
    report: VerifyReport,
    ctx: VerifyContext,
    data: bytes,
    media_type: str,
    cred: CredentialReport,
    *,
    cid: str,
) -> tuple[str, str | None] | None:
    """The CID and manifest hash the file is bound to: by its own credential, else by fingerprint."""
    if cred.present:
        bound = None
        if _credential_checks(report, cred, ctx.trust_anchors_pem):
            report.binding = "hard"
            bound = (cid, cred.manifest_hash)
            _time_checks(report, cred)
        _describe(report, cred)
        _summarise(report, cred)
        return bound
    if _carries_manifest(data, media_type):
        # c2pa cannot parse the container or locate the manifest (truncated, chunk lengths or
        # types broken) although a manifest store is embedded: damaged after signing.
        why = cred.error or "manifest not found"
        detail = f"a Content Credential is embedded but the file is damaged or truncated ({why})"
        report.add("credential", "fail", detail, Verdict.TAMPERED)
        return None
    return _soft_bind(report, ctx, data, media_type)


def _logged_cid(ctx: VerifyContext, data: bytes, given: Receipt | None, cid: str | None = None) -> str:
    """The CID the file is logged under: its IPFS CID (``cid``, if known), or for a file over one
    chunk the single raw-block CID that runs before UnixFS CIDs logged (the receipt or the log
    says which)."""
    cid = cid or cid_for(data)
    if len(data) <= CHUNK_SIZE or (given is not None and given.cid == cid):
        return cid
    legacy = raw_cid(data)
    if given is not None:
        return legacy if given.cid == legacy else cid
    try:
        if ctx.log is not None and ctx.log.receipt(cid) is None and ctx.log.receipt(legacy) is not None:
            return legacy
    except MintloomError:
        pass  # the receipt check reports an unavailable catalog
    return cid


def _unlogged_copy(report: VerifyReport, ctx: VerifyContext, cred: CredentialReport, cid: str) -> None:
    """A credential signed for one of this workspace's finished jobs (its salted job id proves it),
    on bytes the workspace's log never took in, is not the file the job logged: bytes outside the
    signed content (the manifest store's unsigned parts) differ. It keeps none of the logged file's
    receipt, lineage or licence, so it is not VERIFIED (as a ``--receipt`` for the logged CID is not)."""
    g = cred.generation
    logged = _job_asset(ctx, g) if g is not None else None
    if g is None or logged is None or logged == cid or ctx.log is None:
        return
    try:
        if ctx.log.receipt(cid) is not None:
            return
    except MintloomError:
        return  # the receipt check already reported an unavailable catalog
    report.add(
        "logged file",
        "fail",
        f"the credential was signed for a job of campaign {g.campaign!r} logged as asset {logged}, "
        f"but this file ({cid}) has other bytes: its manifest store was altered outside the signed "
        "content, so it is not the logged file (verify the logged file instead)",
        Verdict.UNTRUSTED,
    )


def _job_asset(ctx: VerifyContext, g: GenerationRecord) -> str | None:
    """The asset this workspace logged for the job a credential names, if the job is one of its
    campaign's finished jobs (matched by the salted job id, which only this workspace can form)."""
    if g.job_id is None or ctx.catalog is None:
        return None
    try:
        row = ctx.catalog.campaign(g.campaign)
        jobs = ctx.catalog.done_jobs(g.campaign) if row is not None else {}
    except MintloomError:
        return None
    salt = bytes(row.salt) if row is not None else b""
    return next((c for k, c in jobs.items() if salted_commitment(salt, "job", k) == g.job_id), None)


LINEAGE_DEPTH = 8
"""Ancestors a report's history walks up to."""


def _lineage(report: VerifyReport, ctx: VerifyContext, cid: str, depth: int = LINEAGE_DEPTH) -> None:
    """Walk the derivation chain past the direct ingredient: each ancestor (translated from,
    resized from, …) as the catalog records it, up to the created master."""
    catalog = ctx.catalog
    if catalog is None:
        return
    known = ctx.facts
    try:
        current = cid
        for _ in range(depth):
            if known is not None and current in known.parents:
                parents = known.parents[current]
            else:  # recorded lineage never changes: the variants of one master look it up once
                parents = ctx.settled(("parents", current), functools.partial(catalog.parents, current), bool)
            if not parents:
                return
            parent, relation = parents[0]
            if known is not None and parent in known.places:
                where = known.places[parent]
            else:
                where = ctx.settled(
                    ("asset at", parent), functools.partial(_where, catalog, parent), lambda w: w is not None
                )
            report.history.append({"derived_from": parent, "relation": relation, "asset": where})
            current = parent
    except MintloomError:  # a catalog problem only shortens the history
        return


def _where(catalog: Catalog, cid: str) -> str | None:
    row = catalog.asset(cid)
    return f"{row.locale}/{row.segment}/{row.format}" if row is not None else None


#: Every C2PA manifest store starts with a JUMBF superbox whose description box ("jumd") carries the
#: C2PA type UUID, whose first four bytes spell "c2pa".
AMBIGUITY_BITS = 2
"""Other fingerprint matches within this many bits of the best are reported as look-alikes."""
_MANIFEST_STORE_MARK = b"jumdc2pa"


def _carries_manifest(data: bytes, media_type: str) -> bool:
    """An embedded C2PA manifest store is somewhere in the bytes (even if the container is broken)."""
    return embeds(media_type) and _MANIFEST_STORE_MARK in data


def _read(
    data: bytes, media_type: str, anchors: str | None, sidecar: bytes | None = None, *, tsa: str | None
) -> CredentialReport:
    """:func:`read_credentials`, with anything c2pa raises for malformed input made a report error."""
    try:
        return read_credentials(
            data, media_type, trust_anchors_pem=anchors, sidecar=sidecar, tsa_anchors_pem=tsa
        )
    except Exception as exc:  # c2pa-python raises KeyError etc. for some malformed manifest stores
        return CredentialReport(
            present=True, error=f"unreadable Content Credential: {type(exc).__name__}: {exc}"
        )


def _read_file(
    report: VerifyReport,
    data: bytes,
    media_type: str,
    anchors: str | None,
    sidecar: bytes | None,
    *,
    tsa: str | None,
) -> tuple[bytes, CredentialReport]:
    """The file as signed and its credential. A text whose embedded credential was stripped is
    the signed text again with its sidecar re-attached, if the sidecar's binding then holds."""
    rejoined = rejoin_text(data, sidecar) if sidecar is not None and media_type == "text/plain" else None
    if rejoined is not None:
        cred = _read(rejoined, media_type, anchors, tsa=tsa)
        if cred.hash_binding_valid and cred.error is None:
            detail = "the text's embedded credential was stripped: checked with its .c2pa sidecar re-attached"
            report.add("credential", "info", detail)
            return rejoined, cred
    cred = _read(data, media_type, anchors, sidecar, tsa=tsa)
    # the credential read is the embedded one whenever the text carries one (a sidecar-only
    # credential's hash is the sidecar's): another hash means a swapped or stale sidecar file
    if (
        sidecar is not None
        and media_type == "text/plain"
        and cred.manifest_hash not in (None, sha256_hex(sidecar))
    ):
        detail = "the .c2pa sidecar is not the credential embedded in the text: only the embedded one counts"
        report.add("sidecar", "warn", detail)
    return data, cred


def _fingerprint_match(report: VerifyReport, ctx: VerifyContext, data: bytes) -> str | None:
    """The CID of the registered asset ``data`` looks like (closest first), noting near-ties."""
    from mintloom.provenance.fingerprint import fingerprint

    found = ctx.fingerprint_index()
    if found is None or len(found[0]) == 0:
        report.add(
            "credential",
            "fail",
            "no Content Credential in the file, and no registered assets here to match it against",
            Verdict.UNKNOWN,
        )
        return None
    try:
        fp = fingerprint(data)
    except VerifyError as exc:
        report.add("credential", "fail", f"no Content Credential, and {exc.message}", Verdict.UNKNOWN)
        return None
    matches = found[0].matches(fp)
    if not matches:
        report.add(
            "credential",
            "fail",
            "no Content Credential and no registered asset looks like it",
            Verdict.UNKNOWN,
        )
        return None
    match = matches[0]
    cid = found[1][match.id]
    report.matched_cid, report.fingerprint_distance = cid, match.phash_distance
    report.add(
        "fingerprint",
        "pass",
        f"metadata stripped or re-encoded: matched by fingerprint to {cid} "
        f"(pHash distance {match.phash_distance}, dHash {match.dhash_distance})",
    )
    _note_near_ties(report, matches, found[1])
    return cid


def _note_near_ties(report: VerifyReport, matches: list[Match], ids: list[str]) -> None:
    """Say so when other registered assets are nearly as close as the chosen (first) match."""
    match = matches[0]
    best = match.phash_distance + match.dhash_distance
    close = [ids[m.id] for m in matches[1:] if m.phash_distance + m.dhash_distance <= best + AMBIGUITY_BITS]
    if close:
        shown = ", ".join(close[:3]) + ("…" if len(close) > 3 else "")
        report.add(
            "fingerprint ambiguity",
            "info",
            f"{len(close)} other registered asset(s) look almost the same ({shown}); the closest was chosen",
        )


def _soft_bind(
    report: VerifyReport, ctx: VerifyContext, data: bytes, media_type: str
) -> tuple[str, str | None] | None:
    """No credential in the file: find the registered original by perceptual fingerprint.

    Returns the original's CID and manifest hash when the original's own credential checks out.
    """
    if not media_type.startswith("image/"):
        report.add("credential", "fail", "no Content Credential in the file", Verdict.UNKNOWN)
        return None
    cid = _fingerprint_match(report, ctx, data)
    if cid is None:
        return None
    row = ctx.catalog.asset(cid) if ctx.catalog is not None else None
    try:
        if ctx.blobs is None or row is None:
            raise VerifyError("it is not in this workspace's store")
        original = ctx.blobs.get(cid)
    except MintloomError as exc:
        report.add("original", "fail", f"the matched original is unavailable: {exc.message}", Verdict.UNKNOWN)
        return None
    cred = _read(original, row.media_type, ctx.trust_anchors_pem, tsa=ctx.tsa_anchors_pem)
    if not _credential_checks(report, cred, ctx.trust_anchors_pem, "original credential"):
        return None
    _time_checks(report, cred)
    report.binding = "fingerprint"
    _describe(report, cred)
    _summarise(report, cred)
    return cid, cred.manifest_hash


# --- files and folders ---------------------------------------------------------------------------
def read_receipt(path: Path) -> Receipt:
    """A receipt JSON file (as written by ``mintloom receipt`` or next to an exported asset)."""
    raw = read_regular(path, limit=MAX_SMALL_TEXT_BYTES, what="receipt", error=VerifyInputError)
    try:
        return Receipt.model_validate_json(raw)
    except ValueError as exc:
        raise VerifyError(f"{path} is not a mintloom receipt: {str(exc).splitlines()[0]}") from exc


def verify_path(
    path: Path, ctx: VerifyContext, *, receipt_file: Path | None = None, strict: bool = False
) -> VerifyReport:
    """Verify a file; ``NAME.c2pa`` beside it is its sidecar and ``NAME.receipt.json`` its receipt
    unless ``receipt_file`` is given. A file that is not a regular file, or is over
    :data:`~mintloom.store.files.MAX_VERIFY_BYTES`, is a failed check (``strict``: a
    :class:`VerifyInputError`)."""
    report, anchored = _verify_file(path, ctx, receipt_file=receipt_file, strict=strict)
    _read_licences(ctx, [(report, anchored)], detail=True)
    return report


def _verify_file(
    path: Path, ctx: VerifyContext, *, receipt_file: Path | None = None, strict: bool = False
) -> tuple[VerifyReport, Receipt | None]:
    """:func:`verify_path` but the licence (see :func:`_verify`)."""
    return _verify_loaded(_load(path, receipt_file=receipt_file, strict=strict), ctx)


@dataclass
class _Loaded:
    """A file read for verification with what lies beside it (each read once)."""

    path: Path
    data: bytes = b""
    read_error: str | None = None
    sidecar: bytes | None = None
    receipt: Receipt | None = None
    receipt_error: str | None = None
    cid: str | None = None
    """``cid_for(data)``, computed with the read (the catalog facts of a folder are keyed by it)"""


def _load(path: Path, *, receipt_file: Path | None = None, strict: bool = False) -> _Loaded:
    try:
        data = read_regular(path, limit=MAX_VERIFY_BYTES, what="file to verify", error=VerifyInputError)
    except VerifyInputError as exc:
        if strict:
            raise
        return _Loaded(path, read_error=exc.message)
    loaded = _Loaded(path, data, cid=cid_for(data))
    sidecar_path = path.with_name(path.name + ".c2pa")
    try:
        sidecar = (
            read_regular(sidecar_path, limit=MAX_SIDECAR_BYTES, what="sidecar", error=VerifyInputError)
            if sidecar_path.is_file()
            else None
        )
    except VerifyInputError:
        sidecar = None
    loaded.sidecar = sidecar
    rpath = receipt_file or path.with_name(path.name + ".receipt.json")
    if receipt_file is not None or rpath.is_file():
        try:
            loaded.receipt = read_receipt(rpath)
        except VerifyError as exc:
            loaded.receipt_error = exc.message
    return loaded


def _verify_loaded(loaded: _Loaded, ctx: VerifyContext) -> tuple[VerifyReport, Receipt | None]:
    if loaded.read_error is not None:
        report = VerifyReport(file=str(loaded.path))
        report.add("read", "fail", loaded.read_error, Verdict.UNKNOWN)
        report.decide()
        return report, None
    report, anchored = _verify(
        loaded.data, str(loaded.path), ctx, sidecar=loaded.sidecar, receipt=loaded.receipt, cid=loaded.cid
    )
    if loaded.receipt_error is not None:
        report.add("log receipt", "fail", loaded.receipt_error, Verdict.UNTRUSTED)
        report.decide()
    return report, anchored


def media_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)


def verify_many(
    paths: Sequence[Path],
    ctx: VerifyContext,
    *,
    workers: int = 4,
    on_done: Callable[[VerifyReport], None] | None = None,
) -> Iterator[VerifyReport]:
    """Verify files in parallel threads (c2pa and hashing release the GIL), yielding in order.
    Licences are read per :data:`LICENCE_BATCH` files, in one batch (a few requests, not a few
    per file); the catalog's facts per chunk of files, in a few queries (:func:`_chunks`)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(paths), LICENCE_BATCH):
            done: list[tuple[VerifyReport, Receipt | None]] = []
            for chunk in _chunks(paths[start : start + LICENCE_BATCH]):
                loaded = list(pool.map(_load, chunk))
                here = _with_facts(ctx, [f.cid for f in loaded if f.cid is not None])
                done += pool.map(_verify_loaded, loaded, [here] * len(loaded))
            _read_licences(ctx, done)
            for report, _ in done:
                if on_done is not None:
                    on_done(report)
                yield report


CHUNK_FILES = 64
CHUNK_BYTES = 64 * 1024 * 1024
"""A chunk of a folder is read into memory whole (then its catalog facts in one go): at most
this many files and bytes (a larger file is a chunk of its own)."""


def _chunks(paths: Sequence[Path]) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    size = 0
    for path in paths:
        try:
            n = path.stat().st_size
        except OSError:
            n = 0  # the read reports it
        if chunk and (len(chunk) >= CHUNK_FILES or size + n > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(path)
        size += n
    if chunk:
        yield chunk


def _with_facts(ctx: VerifyContext, cids: list[str]) -> VerifyContext:
    """``ctx`` (its caches shared) knowing the catalog's facts about ``cids``; ``ctx`` itself if
    they cannot be read (each file then asks, and reports, on its own)."""
    from mintloom.verify.facts import read_facts

    if ctx.catalog is None or not cids:
        return ctx
    try:
        facts = read_facts(ctx.catalog, ctx.log, cids, LINEAGE_DEPTH)
    except MintloomError:
        return ctx
    return replace(ctx, facts=facts)


def missing_exports(folder: Path, ctx: VerifyContext, reports: Sequence[VerifyReport]) -> list[VerifyReport]:
    """A MISSING report for every file a workspace campaign exported under ``folder`` (a campaign
    output folder, inside one, or around the workspace's ``out/``) that ``reports`` do not show
    holding the exported asset: lost to a crash, deleted, or replaced by other bytes."""
    if ctx.catalog is None or ctx.out_dir is None:
        return []
    out, here = ctx.out_dir.resolve(), folder.resolve()
    if not (here.is_relative_to(out) or out.is_relative_to(here)):
        return []
    inside = here.relative_to(out).parts if here.is_relative_to(out) else ()
    # the file's own path (its folder resolved, not a symlink it may be): one report per path
    seen = {Path(r.file).parent.resolve() / Path(r.file).name: r.cid for r in reports}
    missing: list[VerifyReport] = []
    for exp in ctx.catalog.exports(inside[0] if inside else None):
        target = out / exp.campaign / exp.path
        if not target.is_relative_to(here) or seen.get(target) == exp.cid:
            continue
        report = VerifyReport(file=str(folder / target.relative_to(here)), cid=exp.cid)
        state = "holds other bytes" if target.exists() else "is absent"
        report.add(
            "exported file",
            "fail",
            f"campaign {exp.campaign!r} exported asset {exp.cid} here, but "
            f"the file {state}: run the campaign again to restore it",
            Verdict.MISSING,
        )
        report.decide()
        missing.append(report)
    return missing


def report_json(report: VerifyReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)
