"""C2PA Content Credentials through c2pa-python: signing generated assets and reading them back.

Images and audio get an embedded manifest. Text gets its manifest embedded too, the way C2PA 2.2
embeds into unstructured text (:mod:`mintloom.provenance.text_wrapper`): a wrapper of invisible
variation selectors appended to the text, bound by a ``c2pa.hash.data`` over the exact text bytes
that excludes the wrapper. Independent validators (the C2PA text reference, encypher-c2pa) check
that binding from the ``.txt`` alone. The same store is also written beside the text as a
``.c2pa`` sidecar, so the credential can be published without the (personalised) text and a text
whose wrapper was stripped can be verified again with it. Text signed before this carried only a
sidecar bound to a *carrier* (an SVG wrapping of the text, :func:`text_carrier`); it is still read.

Every manifest holds ``c2pa.actions`` (``c2pa.created`` with the IPTC digital source type, or
``c2pa.opened`` of the parent plus the derivation action), the ``mintloom.generation``
assertion (:class:`GenerationRecord`), the CAWG training-and-data-mining assertion, and for
derived variants a ``parentOf`` ingredient carrying the parent's own signed manifest.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import c2pa
from pydantic import BaseModel, Field, ValidationError

from mintloom import __version__
from mintloom.errors import ManifestError, SigningError, SourceTypeMismatchError, TimeStampError
from mintloom.provenance import data_hashed, text_wrapper
from mintloom.provenance.credentials import DigitalSourceType, GenerationRecord, Parent, SignedAsset
from mintloom.provenance.keys import Signer, verify_raw_signature
from mintloom.store.thumbnails import render_thumbnail, thumbnailable

GENERATION_LABEL = "mintloom.generation"
TRAINING_LABEL = "cawg.training-mining"
TEXT_MEDIA_TYPES = frozenset({"text/plain", "text/markdown", "application/json"})
"""Text formats: the manifest is embedded as a C2PA text wrapper (legacy: a sidecar)."""


def base_media_type(media_type: str) -> str:
    """``text/plain; charset=utf-8`` → ``text/plain``."""
    return media_type.split(";", 1)[0].strip().lower()


_EMBED_MEDIA_TYPES = {
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
    "image/webp": "image/webp",
    "audio/wav": "audio/wav",
    "audio/x-wav": "audio/wav",
    "audio/flac": "audio/flac",
}
_CARRIER_TYPE = "image/svg+xml"
_ALGS = {"es256": c2pa.C2paSigningAlg.ES256, "ed25519": c2pa.C2paSigningAlg.ED25519}
_TSA_FAILURE_WORDS = ("http", "timestamp", "time stamp", "tsa")
_VALIDATED_KEPT = 16
"""Validated parents and layers a signer keeps (a campaign signs a design's variants together)."""


def text_carrier(data: bytes) -> bytes:
    """The SVG document legacy text sidecars were bound to (read only: text is now embedded)."""
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><desc>'
        + base64.b64encode(data)
        + b"</desc></svg>"
    )


def embeds(media_type: str) -> bool:
    """c2pa embeds the manifest into this container (text is embedded by mintloom, see above)."""
    return media_type in _EMBED_MEDIA_TYPES


def nfc_text(data: bytes) -> bytes:
    """``data`` as NFC UTF-8: C2PA hashes unstructured text in Unicode normalization form C."""
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise SigningError("cannot sign text that is not UTF-8") from exc


def _training_assertion(use: str) -> dict[str, Any]:
    entries = {
        k: {"use": use}
        for k in ("cawg.ai_generative_training", "cawg.ai_training", "cawg.ai_inference", "cawg.data_mining")
    }
    return {"label": TRAINING_LABEL, "data": {"entries": entries}}


def _placed(components: int) -> list[dict[str, Any]]:
    """A ``c2pa.placed`` action per component ingredient (a model layer composited into the asset)."""
    return [
        {"action": "c2pa.placed", "parameters": {"ingredientIds": [f"component{i}"]}}
        for i in range(components)
    ]


def _actions(record: GenerationRecord, has_parent: bool, components: int = 0) -> dict[str, Any]:
    agent = {"name": f"mintloom/{record.engine}", "version": record.engine_version}
    if not has_parent:
        created = {
            "action": "c2pa.created",
            "digitalSourceType": str(record.source_type),
            "softwareAgent": agent,
        }
        return {"label": "c2pa.actions", "data": {"actions": [created, *_placed(components)]}}
    opened = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}
    derived: dict[str, Any] = {
        "action": record.action,
        "softwareAgent": agent,
        "digitalSourceType": str(record.source_type),
    }
    if record.action == "c2pa.translated":
        derived["parameters"] = {
            "sourceLanguage": record.source_locale or "und",
            "targetLanguage": record.locale,
        }
    return {"label": "c2pa.actions", "data": {"actions": [opened, derived, *_placed(components)]}}


def _manifest(
    record: GenerationRecord, media_type: str, *, title: str, has_parent: bool, components: int = 0
) -> dict[str, Any]:
    """The manifest definition: actions, generation record and training use."""
    assertions: list[dict[str, Any]] = [
        _actions(record, has_parent, components),
        {"label": GENERATION_LABEL, "data": record.model_dump(mode="json", exclude_none=True)},
        _training_assertion(record.ai_training),
    ]
    return {
        "claim_generator_info": [{"name": "mintloom", "version": __version__}],
        "title": title,
        "format": media_type,
        "assertions": assertions,
    }


def _add_text_parent(builder: c2pa.Builder, parent: Parent) -> None:
    """Record a text ``parent`` as the parentOf ingredient: it goes in as its manifest store."""
    ingredient = {"title": parent.title, "relationship": "parentOf", "label": "parent"}
    try:
        found = text_wrapper.find(parent.data)
    except ManifestError as exc:
        raise SigningError(f"the parent text {parent.title} has a damaged credential: {exc}") from exc
    if found is None:
        raise SigningError(f"the parent text {parent.title} carries no Content Credential")
    if not read_credentials(parent.data, base_media_type(parent.media_type)).hash_binding_valid:
        raise SigningError(f"the parent text {parent.title} no longer matches its Content Credential")
    builder.add_ingredient(ingredient, _STORE_FORMAT, io.BytesIO(found.manifest))


@dataclass(frozen=True)
class _Ingredient:
    """A parent or component to record in a manifest, as the signer adds it to c2pa's builder."""

    source: Parent
    relationship: Literal["parentOf", "componentOf"]
    label: str
    fmt: str
    validated: _ValidatedIngredient | None
    """Its store and c2pa's verdict on it, when validated ahead (:class:`_ValidatedIngredient`)."""

    def definition(self) -> dict[str, Any]:
        """The ingredient as the manifest definition states it: a validated ingredient carries its
        store (a builder resource) and c2pa's validation results, as C2PA records them."""
        assert self.validated is not None
        return {
            "title": self.source.title,
            "format": self.fmt,
            "relationship": self.relationship,
            "label": self.label,
            "instance_id": f"xmp.iid:{uuid.uuid4()}",  # what c2pa makes up for a file without XMP ids
            "validation_results": self.validated.validation_results,
            "manifest_data": {"format": "application/c2pa", "identifier": self.label + ".c2pa"},
            **self._thumbnail_ref(),
        }

    def _thumbnail_ref(self) -> dict[str, Any]:
        if self.validated is None or self.validated.thumbnail is None:
            return {}
        return {"thumbnail": {"format": "image/jpeg", "identifier": self.label + ".thumbnail.jpg"}}

    def add_to(self, builder: c2pa.Builder) -> None:
        """Hand c2pa the store of a validated ingredient, or the whole file to validate now."""
        if self.validated is not None:
            builder.add_resource(self.label + ".c2pa", io.BytesIO(self.validated.store))
            if self.validated.thumbnail is not None:
                builder.add_resource(self.label + ".thumbnail.jpg", io.BytesIO(self.validated.thumbnail))
            return
        ingredient = {"title": self.source.title, "relationship": self.relationship, "label": self.label}
        builder.add_ingredient(ingredient, self.fmt, io.BytesIO(self.source.data))


@dataclass(frozen=True)
class _ValidatedIngredient:
    """A signed file's manifest store and c2pa's validation results for it, read once and recorded
    in every asset made from the file. c2pa's ``add_ingredient`` validates the ingredient's manifest
    again for each asset (a third of signing a variant); the results are the same each time."""

    source: bytes
    store: bytes
    validation_results: dict[str, Any]
    thumbnail: bytes | None = None
    """A small JPEG of an image ingredient, made once with its validation and recorded in each
    child's manifest (C2PA's ingredient thumbnail: what a manifest viewer shows of a parent)."""


def _validate_ingredient(
    data: bytes, fmt: str, context: c2pa.Context, preview: bytes | None = None
) -> _ValidatedIngredient | None:
    """c2pa's validation of the manifest store in ``data``, as ``add_ingredient`` would record it.
    The store lifted out here must be the one c2pa validated. It is when a walk over the whole
    container finds exactly that one store and c2pa's active manifest is in it (:func:`_sole_store`);
    otherwise the lifted store is read against ``data`` too and its results must be the same. None
    when c2pa finds no store, refuses the file or the two differ: ``add_ingredient`` then ingests
    the file as before (and refuses what c2pa does)."""
    try:
        store = extract_manifest_store(data, fmt)
        embedded, active = _validation_results(fmt, data, None, context)
        if embedded is None or "activeManifest" not in embedded:
            return None
        if not (_sole_store(data) == store and active and active.encode() in store):
            lifted, _ = _validation_results(fmt, data, store, context)
            if lifted != embedded:
                return None
    except (ManifestError, c2pa.C2paError, ValueError):
        return None
    return _ValidatedIngredient(data, store, embedded, _ingredient_thumbnail(data, fmt, preview))


INGREDIENT_THUMB_EDGE = 160
"""Pixels on the longer edge of a parent's thumbnail in its children's manifests (~5 KB)."""


def _ingredient_thumbnail(data: bytes, fmt: str, preview: bytes | None = None) -> bytes | None:
    """A parent image's thumbnail, None for other media or an image that does not decode. Scaled
    from ``preview`` when the caller has one: decoding a 1080 px parent costs ~15x more."""
    if not thumbnailable(fmt):
        return None
    small = render_thumbnail(preview, edge=INGREDIENT_THUMB_EDGE) if preview is not None else None
    return small or render_thumbnail(data, edge=INGREDIENT_THUMB_EDGE)


def _validation_results(
    fmt: str, data: bytes, store: bytes | None, context: c2pa.Context
) -> tuple[dict[str, Any] | None, str | None]:
    """c2pa's validation results for the store in ``data`` (or ``store`` beside it) and the label
    of its active manifest; (None, None) when c2pa finds no store."""
    reader = c2pa.Reader.try_create(fmt, io.BytesIO(data), store, context)
    if reader is None:
        return None, None
    with reader:
        read = json.loads(reader.json())
    results, active = read.get("validation_results"), read.get("active_manifest")
    return (results if isinstance(results, dict) else None), (active if isinstance(active, str) else None)


class C2paAssetSigner:
    """:class:`~mintloom.provenance.credentials.AssetSigner` over c2pa-python and a key :class:`Signer`."""

    def __init__(
        self, signer: Signer, *, tsa_url: str | None = None, parent_anchors: str | None = None
    ) -> None:
        """``parent_anchors``: other organisations' roots a parent may chain to (a fan remixing a
        brand's asset), trusted when the parent is validated, so its ingredient records it valid."""
        self._signer = signer
        self._tsa_url = tsa_url
        self._chain = signer.certificate_chain_pem.decode()
        # c2pa checks the certificate and the signature before it embeds them; a parent is
        # validated once (its results recorded in each variant's claim, see _validated_ingredient);
        # ``verify_after_sign`` then re-reads the whole asset it wrote, about a third of signing a
        # variant. That re-read runs until one asset passes it (an end-to-end check of this
        # signer's output, see sign), not on every asset. With a TSA it stays on: each time-stamp
        # token is only checked there. c2pa also validates an ingredient's store again each time it
        # builds a manifest holding it (``verify_after_reading``): where every ingredient was
        # validated here (its results recorded from that one validation) the builder is given
        # ``_prevalidated_context``, which skips that repeat (~0.5 ms a variant); everything else,
        # a parent c2pa ingests itself included, is built with ``_context`` as before.
        root = self._chain[self._chain.rindex("-----BEGIN CERTIFICATE-----") :] + (parent_anchors or "")
        self._context = _signing_context(root, verify_after_sign=tsa_url is not None)
        self._prevalidated_context = _signing_context(
            root, verify_after_sign=tsa_url is not None, reread_ingredients=False
        )
        self._checked_context: c2pa.Context | None = (
            None if tsa_url is not None else _signing_context(root, verify_after_sign=True)
        )
        self._validated: dict[int, _ValidatedIngredient] = {}
        """The last few parents and layers validated, by the identity of their bytes (a run hands
        the same bytes for each of a parent's variants)."""
        self._validated_lock = threading.Lock()

    def _c2pa_signer(self) -> c2pa.Signer:
        """c2pa's signer; with a TSA URL c2pa counter-signs each claim signature with an RFC 3161
        time-stamp (``sigTst2``), the trusted time validators check the certificate against.
        (Made per asset: it costs ~0.04 ms, and one shared across threads would need a lock.)"""
        return c2pa.Signer.from_callback(
            self._checked_sign, _ALGS[self._signer.alg], self._chain, self._tsa_url
        )

    def _checked_sign(self, data: bytes) -> bytes:
        """The key's signature, verified against its certificate before c2pa embeds it: c2pa only
        checks it in its re-read of the signed asset, which runs for the first asset alone (an
        HSM or KMS answering garbage later would otherwise ship unverifiable credentials)."""
        signature = self._signer.sign(data)
        if not verify_raw_signature(self._signer.certificate_chain_pem, data, signature):
            raise SigningError("the key's signature does not verify against its certificate")
        return signature

    def _failed(self, title: str, media_type: str, exc: c2pa.C2paError) -> SigningError:
        """Name a time-stamping failure as such: signing itself makes no other HTTP request."""
        text = str(exc)
        if self._tsa_url is not None and any(w in text.lower() for w in _TSA_FAILURE_WORDS):
            return TimeStampError(
                f"time-stamping {title} at {self._tsa_url} failed: {text}",
                hint="check that the TSA is up and reachable, or unset provenance.tsa_url to sign "
                "without a trusted time",
            )
        return SigningError(f"C2PA signing of {title} ({media_type}) failed: {text}")

    def _tsa_certificate_refused(
        self, failure: str, data: bytes, media_type: str, record: GenerationRecord
    ) -> bool:
        """c2pa checks the time-stamp while signing and reports a TSA certificate it refuses (no
        timeStamping EKU, …) as ``signingCredential.invalid``: it is the TSA's if the same key
        signs the same asset without the TSA."""
        if self._tsa_url is None or "signingCredential" not in failure:
            return False
        plain = C2paAssetSigner(self._signer)
        try:
            builder = c2pa.Builder.from_json(
                _manifest(record, media_type, title="probe", has_parent=False), plain._context
            )
            if media_type in TEXT_MEDIA_TYPES:
                plain._sign_text(builder, data)
            else:
                plain._sign_embedded(builder, data, _EMBED_MEDIA_TYPES[media_type])
        except Exception:  # the key itself is refused too: not the TSA's fault
            return False
        return True

    def sign(
        self,
        data: bytes,
        media_type: str,
        record: GenerationRecord,
        *,
        title: str,
        parent: Parent | None = None,
        components: tuple[Parent, ...] = (),
    ) -> SignedAsset:
        media_type = base_media_type(media_type)
        is_text = media_type in TEXT_MEDIA_TYPES
        if not is_text and not embeds(media_type):
            raise SigningError(f"cannot sign {media_type}: not a format mintloom signs")
        _refuse_mislabel(record, title, components)
        manifest = _manifest(
            record, media_type, title=title, has_parent=parent is not None, components=len(components)
        )
        try:
            ingredients = self._ingredients(parent, components)
            manifest["ingredients"] = [i.definition() for i in ingredients if i.validated is not None]
            builder = c2pa.Builder.from_json(manifest, self._builder_context(parent, ingredients))
            if parent is not None and base_media_type(parent.media_type) in TEXT_MEDIA_TYPES:
                _add_text_parent(builder, parent)
            for ingredient in ingredients:
                ingredient.add_to(builder)
            signed, store = (
                self._sign_text(builder, data)
                if is_text
                else self._sign_embedded(builder, data, _EMBED_MEDIA_TYPES[media_type])
            )
        except c2pa.C2paError as exc:
            if self._tsa_certificate_refused(str(exc), data, media_type, record):
                raise TimeStampError(
                    f"time-stamping {title} at {self._tsa_url} failed: c2pa refused the TSA's "
                    f"certificate ({exc})",
                    hint="a TSA certificate needs the timeStamping extended key usage (critical): "
                    "use a real RFC 3161 TSA, or unset provenance.tsa_url",
                ) from exc
            raise self._failed(title, media_type, exc) from exc
        except SigningError:
            raise
        except Exception as exc:  # the signing callback (HSM/KMS) failed
            raise SigningError(f"signing {title} failed: {type(exc).__name__}: {exc}") from exc
        if not store or signed == data:
            raise SigningError(f"C2PA produced no manifest for {title}")
        self._checked_context = None  # the credential passed c2pa's own check once: enough
        return SignedAsset(
            data=signed,
            media_type=media_type,
            manifest=store,
            manifest_hash=hashlib.sha256(store).digest(),
            sidecar=is_text,
        )

    def _builder_context(self, parent: Parent | None, ingredients: list[_Ingredient]) -> c2pa.Context:
        """The first asset's end-to-end checked context; else, when every ingredient is one
        validated here (a text parent never is: c2pa ingests its store), the context that does not
        validate their stores again; else the signing context that does."""
        if self._checked_context is not None:
            return self._checked_context
        text_parent = parent is not None and base_media_type(parent.media_type) in TEXT_MEDIA_TYPES
        if ingredients and not text_parent and all(i.validated is not None for i in ingredients):
            return self._prevalidated_context
        return self._context

    def _ingredients(self, parent: Parent | None, components: tuple[Parent, ...]) -> list[_Ingredient]:
        """The image or audio parent (``parentOf``) and the model layers (``componentOf``) to record."""
        found = []
        if parent is not None and base_media_type(parent.media_type) not in TEXT_MEDIA_TYPES:
            found.append(self._ingredient(parent, "parentOf", "parent"))
        for i, layer in enumerate(components):
            if base_media_type(layer.media_type) not in _EMBED_MEDIA_TYPES:
                raise SigningError(
                    f"the component {layer.title} is {base_media_type(layer.media_type)}, "
                    "not an image mintloom signs"
                )
            found.append(self._ingredient(layer, "componentOf", f"component{i}"))
        return found

    def _ingredient(
        self, source: Parent, relationship: Literal["parentOf", "componentOf"], label: str
    ) -> _Ingredient:
        media_type = base_media_type(source.media_type)
        fmt = _EMBED_MEDIA_TYPES.get(media_type, media_type)
        validated = self._validated_ingredient(source.data, fmt, source.preview)
        return _Ingredient(source, relationship, label, fmt, validated)

    def _validated_ingredient(
        self, data: bytes, fmt: str, preview: bytes | None = None
    ) -> _ValidatedIngredient | None:
        """c2pa's validation of ``data`` as an ingredient, done once for the same bytes object (bytes
        are immutable, and an entry keeps its object alive, so its id is not reused meanwhile). A
        mutable buffer is left to ``add_ingredient`` each time: its content may change."""
        if type(data) is not bytes:
            return None
        with self._validated_lock:
            hit = self._validated.get(id(data))
        if hit is not None and hit.source is data:
            return hit
        found = _validate_ingredient(data, fmt, self._context, preview)
        if found is not None:
            with self._validated_lock:
                if len(self._validated) >= _VALIDATED_KEPT:
                    self._validated.pop(next(iter(self._validated)))
                self._validated[id(data)] = found
        return found

    def _sign_embedded(self, builder: c2pa.Builder, data: bytes, fmt: str) -> tuple[bytes, bytes]:
        out = io.BytesIO()
        store = builder.sign(self._c2pa_signer(), fmt, io.BytesIO(data), out)
        return out.getvalue(), bytes(store)

    def _sign_text(self, builder: c2pa.Builder, data: bytes) -> tuple[bytes, bytes]:
        """The NFC text with its manifest wrapper appended, and the manifest store.

        The store's size is fixed (c2pa's placeholder) before it is signed, so the wrapper's byte
        range, which the hard binding excludes, is known when the hash is taken."""
        text = nfc_text(data)
        try:
            already = text_wrapper.find(text)
        except ManifestError as exc:
            raise SigningError(f"the text already carries a damaged C2PA wrapper: {exc}") from exc
        if already is not None:
            raise SigningError("the text already carries a C2PA wrapper: sign the text without it")
        signer = self._c2pa_signer()
        size = data_hashed.placeholder_size(builder, signer)
        exclusion = (len(text), text_wrapper.wrapper_length(size))
        store = data_hashed.sign(builder, signer, "sha256", hashlib.sha256(text).digest(), exclusion)
        wrapper = text_wrapper.encode(store)
        if len(wrapper) != exclusion[1]:
            raise SigningError(f"the signed manifest ({len(store)} B) overflows its placeholder ({size} B)")
        return text + wrapper, store


def _signing_context(
    root_pem: str, *, verify_after_sign: bool, reread_ingredients: bool = True
) -> c2pa.Context:
    """c2pa settings for signing: our CA trusted (parent ingredients validate, and their validation
    is recorded in the child's manifest), no claim thumbnail (it would cost more than the rest of
    signing and duplicate the asset). Without ``reread_ingredients`` c2pa does not validate the
    ingredients' stores while it builds the manifest: only for ingredients already validated."""
    settings = {
        "builder": {"thumbnail": {"enabled": False}},
        "trust": {"trust_anchors": root_pem},
        "verify": {
            "verify_trust": True,
            "verify_after_sign": verify_after_sign,
            "verify_after_reading": reread_ingredients,
        },
    }
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def _refuse_mislabel(record: GenerationRecord, title: str, components: tuple[Parent, ...] = ()) -> None:
    """Never sign a digital source type the record contradicts (e.g. procedural output naming a
    model, or a composite of model layers that says it is not one)."""
    why = record.honest_source_type()
    if why is None and components and record.source_type is not DigitalSourceType.COMPOSITE_WITH_TRAINED:
        why = f"it composites {len(components)} model layer(s) but says {record.source_type.term}"
    if why is not None:
        raise SourceTypeMismatchError(
            f"refusing to sign {title}: {why}",
            hint="a model is named only when a trained model made (part of) the asset",
        )


# --- reading ---------------------------------------------------------------------------------------
class IngredientReport(BaseModel):
    title: str
    relationship: str
    active_manifest: str | None = None
    valid: bool
    failures: list[str] = Field(default_factory=list)
    signer: str | None = None
    """Who signed the ingredient's own manifest (another organisation's, for a fan's remix)."""


TimeStampState = Literal["trusted", "untrusted", "invalid"]


class ActionInfo(BaseModel):
    """One ``c2pa.actions`` entry as the manifest states it (any signer's, not only mintloom's)."""

    action: str
    software_agent: str | None = None
    source_type: str | None = None
    """The IPTC digital source type's term (``trainedAlgorithmicMedia`` …), when the action gives one."""


class SignerInfo(BaseModel):
    """Who signed a claim, as its signing certificate says, and when (if the claim says)."""

    claim_generator: str | None = None
    """The software that made the claim (``claim_generator_info`` names and versions)."""
    subject: str | None = None
    """The signing certificate's subject (RFC 4514 style, most specific first)."""
    issuer: str | None = None
    """The signing certificate's issuer."""
    signed_at: str | None = None
    """The signing time c2pa reports (an RFC 3161 time-stamp's, when the claim carries one)."""


class CredentialReport(BaseModel):
    """What a file's Content Credential says, and whether c2pa validated it."""

    present: bool
    """A manifest was found (embedded, or the sidecar given)."""
    label: str | None = None
    validation_state: str | None = None
    """c2pa's verdict: Trusted, Valid (signature fine, signer not trusted) or Invalid."""
    signature_valid: bool = False
    trusted: bool = False
    hash_binding_valid: bool = False
    failures: list[str] = Field(default_factory=list)
    """c2pa validation failure codes (e.g. assertion.dataHash.mismatch, signingCredential.untrusted)."""
    generation: GenerationRecord | None = None
    actions: list[str] = Field(default_factory=list)
    action_details: list[ActionInfo] = Field(default_factory=list)
    ingredients: list[IngredientReport] = Field(default_factory=list)
    signer: str | None = None
    signer_info: SignerInfo = Field(default_factory=SignerInfo)
    signer_serial: int | None = None
    """Serial number of the signing certificate (to match against retired signers)."""
    manifest_hash: str | None = None
    """sha-256 (hex) of the manifest store bytes, when they were available."""
    time_stamp: TimeStampState | None = None
    """The RFC 3161 time-stamp on the claim signature: by a trusted TSA, by an unknown one, or
    present but not matching the signature (``invalid``, treated as absent), or None."""
    signed_at: dt.datetime | None = None
    """The time-stamp's time: when the claim was signed, attested by the TSA."""
    time_stamp_authority: str | None = None
    time_stamp_problem: str | None = None
    """The c2pa codes of a time-stamp that is present but invalid (e.g. timeStamp.mismatch)."""
    signer_expired: bool = False
    """The signer certificate has expired and no trusted time-stamp shows it signed while valid."""
    error: str | None = None

    @property
    def tampered(self) -> bool:
        return any(".mismatch" in f or f.startswith("assertion.") for f in self.failures)

    @property
    def claim_altered(self) -> bool:
        """The signature does not match the claim: the claim (or an assertion it hashes) was changed
        after signing, which is tampering, not an unknown signer."""
        return any(f in _ALTERED_CLAIM for f in self.failures)

    @property
    def credential_invalid(self) -> bool:
        """The signature or its signing credential is invalid (expired, revoked, unfit for
        signing…), as opposed to valid and merely signed by someone not trusted here."""
        return not self.signature_valid or any(
            f.startswith(("signingCredential.", "claimSignature."))
            and f != "signingCredential.untrusted"
            and f not in _ALTERED_CLAIM
            for f in self.failures
        )


_SIGNATURE_FAILS = ("claimSignature.", "signingCredential.invalid", "signingCredential.revoked")
_ALTERED_CLAIM = frozenset({"claimSignature.mismatch", "assertion.hashedURI.mismatch"})


def _codes(results: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    active = (results or {}).get("activeManifest") or {}
    ok = [str(x.get("code")) for x in active.get("success", [])]
    bad = [str(x.get("code")) for x in active.get("failure", [])]
    return ok, bad


def _informational(results: dict[str, Any] | None) -> list[str]:
    active = (results or {}).get("activeManifest") or {}
    return [str(x.get("code")) for x in active.get("informational", [])]


def _tsa_name(results: dict[str, Any] | None) -> str | None:
    """The TSA c2pa names when the time-stamp's digest matched (``…: <TSA subject CN>``)."""
    active = (results or {}).get("activeManifest") or {}
    for x in active.get("success", []):
        if x.get("code") == "timeStamp.validated":
            return str(x.get("explanation", "")).rpartition(": ")[2] or None
    return None


def _pem_certs(pem: str) -> list[str]:
    marker = "-----BEGIN CERTIFICATE-----"
    return [f"{marker}\n{part.strip()}\n" for part in pem.split(marker)[1:]]


_CONTEXTS: dict[tuple[int, str | None], c2pa.Context] = {}
_CONTEXTS_LOCK = threading.Lock()
_MAX_CONTEXTS = 8


def _reader_context(trust_anchors_pem: str | None) -> c2pa.Context:
    """A c2pa context that checks trust only when anchors are given. Built once per anchors and
    process (a forked worker builds its own: c2pa refuses a parent's), then shared by every
    read: readers only borrow it, and building one costs more than a small file's read."""
    key = (os.getpid(), trust_anchors_pem)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            if len(_CONTEXTS) >= _MAX_CONTEXTS:  # a reader still using the oldest keeps it alive
                _CONTEXTS.pop(next(iter(_CONTEXTS)))
            context = _CONTEXTS[key] = _new_reader_context(trust_anchors_pem)
        return context


def _new_reader_context(trust_anchors_pem: str | None) -> c2pa.Context:
    settings: dict[str, Any] = {"verify": {"verify_trust": trust_anchors_pem is not None}}
    if trust_anchors_pem is not None:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def _assertions(active: dict[str, Any], bad: list[str]) -> tuple[GenerationRecord | None, list[str]]:
    """The generation record and action names of the active manifest; a malformed record adds to ``bad``."""
    generation = None
    actions: list[str] = []
    for a in active.get("assertions", []):
        if a.get("label") == GENERATION_LABEL:
            try:
                generation = GenerationRecord.model_validate(a.get("data"))
            except ValidationError:
                bad.append("mintloom.generation.malformed")
        elif str(a.get("label", "")).startswith("c2pa.actions"):
            actions.extend(str(x.get("action")) for x in a.get("data", {}).get("actions", []))
    return generation, actions


_STORE_FORMAT = "application/x-c2pa-manifest-store"
"""How a text parent goes in as an ingredient: as its manifest store (c2pa-rs cannot read text)."""
_DATA_HASH_FAILS = ("assertion.dataHash.",)


def _name_ingredient_signers(ingredients: list[IngredientReport], store: dict[str, Any]) -> None:
    """Each ingredient's signer, from its manifest in the store: the chain of organisations."""
    manifests = store.get("manifests") or {}
    for ing in ingredients:
        info = (manifests.get(ing.active_manifest or "") or {}).get("signature_info") or {}
        ing.signer = info.get("common_name") or info.get("issuer")


def _ingredients(active: dict[str, Any]) -> list[IngredientReport]:
    ingredients = []
    for ing in active.get("ingredients", []):
        _, ibad = _codes(ing.get("validation_results"))
        if ing.get("format") == _STORE_FORMAT:
            # ingested without its text (the signer checked the parent's binding on the text first)
            ibad = [b for b in ibad if not b.startswith(_DATA_HASH_FAILS)]
        ingredients.append(
            IngredientReport(
                title=str(ing.get("title", "")),
                relationship=str(ing.get("relationship", "")),
                active_manifest=ing.get("active_manifest"),
                valid=not ibad and ing.get("active_manifest") is not None,
                failures=ibad,
            )
        )
    return ingredients


def read_credentials(
    data: bytes,
    media_type: str,
    *,
    trust_anchors_pem: str | None = None,
    sidecar: bytes | None = None,
    tsa_anchors_pem: str | None = None,
) -> CredentialReport:
    """Read and validate the Content Credential of ``data``. No manifest → ``present=False``.

    ``tsa_anchors_pem`` are the roots trusted for RFC 3161 time-stamps only (c2pa takes one list;
    a signer chaining to one of them is refused, see :func:`_signer_under_tsa_root`).
    Text carries it embedded (a C2PA text wrapper) or, if signed by an older mintloom, in a
    ``.c2pa`` sidecar bound to the SVG carrier. Never raises for bad input: a file that cannot be
    parsed yields a report with ``error`` set.
    """
    media_type = base_media_type(media_type)
    anchors = _Anchors(trust_anchors_pem, _tsa_only_roots(trust_anchors_pem, tsa_anchors_pem))
    if media_type not in TEXT_MEDIA_TYPES:
        fmt = _EMBED_MEDIA_TYPES.get(media_type, media_type)
        return _read_store(fmt, data, None, anchors, manifest_hash=lambda: _embedded_manifest_hash(data, fmt))
    try:
        found = text_wrapper.find(data)
    except ManifestError as exc:
        return CredentialReport(present=True, error=f"unreadable Content Credential: {exc.message}")
    if found is not None:
        return _read_store(
            "text/plain",
            data,
            found.manifest,
            anchors,
            manifest_hash=lambda: sha256_hex(found.manifest),
            text=found,
        )
    if sidecar is None:
        return CredentialReport(present=False, error="no C2PA manifest embedded in the text")
    legacy = text_carrier(data)
    return _read_store(_CARRIER_TYPE, legacy, sidecar, anchors, manifest_hash=lambda: sha256_hex(sidecar))


def rejoin_text(data: bytes, sidecar: bytes) -> bytes | None:
    """``data`` with ``sidecar`` embedded again as its wrapper: the text as signed, if ``data`` is
    that text with its wrapper stripped (None if ``data`` still carries a wrapper or is not UTF-8)."""
    try:
        if text_wrapper.find(data) is not None:
            return None
        data.decode("utf-8")
    except (ManifestError, UnicodeDecodeError):
        return None
    return data + text_wrapper.encode(sidecar)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_store(
    fmt: str,
    source: bytes,
    manifest: bytes | None,
    anchors: _Anchors,
    *,
    manifest_hash: Callable[[], str | None],
    text: text_wrapper.Embedded | None = None,
) -> CredentialReport:
    """Let c2pa read and validate the manifest store of ``source`` (or ``manifest`` beside it)."""
    try:
        reader = c2pa.Reader.try_create(fmt, io.BytesIO(source), manifest, _reader_context(anchors.combined))
    except c2pa.C2paError as exc:
        return CredentialReport(present=manifest is not None, error=f"unreadable Content Credential: {exc}")
    if reader is None:
        return CredentialReport(present=False)
    try:
        with reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results()
            ok, bad = _codes(results)
            active = reader.get_active_manifest() or {}
            manifest_store = json.loads(reader.json())
            certificate = _certificate_info(reader)
            if text is not None:
                detailed = json.loads(reader.detailed_json())
                state, bad = _text_binding(source, text, detailed, state, ok=ok, bad=bad)
    except (c2pa.C2paError, ValueError, KeyError) as exc:  # KeyError: no active manifest in the store
        return CredentialReport(present=True, error=f"unreadable Content Credential: {exc}")
    label = manifest_store.get("active_manifest")
    report = _report(active, state=state, ok=ok, bad=bad, label=label, manifest_hash=manifest_hash())
    report.signer_info = _signer_info(active, certificate)
    _name_ingredient_signers(report.ingredients, manifest_store)
    _add_time_stamp(report, active, ok, _informational(results), _tsa_name(results))
    if (
        report.trusted
        and anchors.tsa_only
        and _signer_under_tsa_root(fmt, source, manifest, anchors.tsa_only)
    ):
        report.trusted = False
        report.validation_state = "Valid"
        report.failures.append(SIGNER_UNDER_TSA_ROOT)
    return report


@dataclass(frozen=True)
class _Anchors:
    """The content-signing roots and the TSA-only roots (c2pa is given both in one list)."""

    signing: str | None
    tsa_only: list[str]

    @property
    def combined(self) -> str | None:
        if self.signing and self.tsa_only:
            return self.signing + "\n" + "\n".join(self.tsa_only)
        return self.signing


SIGNER_UNDER_TSA_ROOT = "mintloom.signingCredential.tsaRoot"
"""Failure code: the signer chains to a root trusted for time-stamps only."""


def _tsa_only_roots(trust_anchors_pem: str | None, tsa_anchors_pem: str | None) -> list[str]:
    """The TSA roots that are not also content-signing anchors."""
    if not trust_anchors_pem or not tsa_anchors_pem:
        return []
    signing = {"".join(c.split()) for c in _pem_certs(trust_anchors_pem)}
    return [c for c in _pem_certs(tsa_anchors_pem) if "".join(c.split()) not in signing]


def _signer_under_tsa_root(fmt: str, source: bytes, sidecar: bytes | None, tsa_only: list[str]) -> bool:
    """c2pa trusts signers and TSAs from one list: re-read with the TSA roots alone to refuse a
    content signer that is trusted only because a TSA's root is (a public TSA root issues more)."""
    try:
        reader = c2pa.Reader.try_create(
            fmt, io.BytesIO(source), sidecar, _reader_context("\n".join(tsa_only))
        )
        if reader is None:
            return False
        with reader:
            ok, _ = _codes(reader.get_validation_results())
    except c2pa.C2paError:
        return False
    return "signingCredential.trusted" in ok


def _add_time_stamp(
    report: CredentialReport, active: dict[str, Any], ok: list[str], info: list[str], tsa: str | None
) -> None:
    """The claim signature's time-stamp: its time once c2pa matched it to the signature, and
    whether the TSA chains to a trusted root (``timeStamp.trusted``) or not."""
    report.signer_expired = "signingCredential.expired" in report.failures
    if "timeStamp.validated" not in ok:
        # c2pa treats a time-stamp that does not match the signature (moved from another
        # credential, altered) as absent, noting timeStamp.mismatch/malformed: so do we, by name
        broken = [c for c in info + report.failures if c.startswith("timeStamp.")]
        if broken:
            report.time_stamp = "invalid"
            report.time_stamp_problem = ", ".join(broken)
        return
    report.time_stamp = (
        "trusted" if "timeStamp.trusted" in ok and "timeStamp.untrusted" not in info else "untrusted"
    )
    report.time_stamp_authority = tsa
    when = (active.get("signature_info") or {}).get("time")
    if isinstance(when, str):
        try:
            report.signed_at = dt.datetime.fromisoformat(when).astimezone(dt.UTC)
        except ValueError:
            report.failures.append("timeStamp.malformed")


def _text_binding(
    data: bytes,
    found: text_wrapper.Embedded,
    detailed: dict[str, Any],
    state: str | None,
    *,
    ok: list[str],
    bad: list[str],
) -> tuple[str | None, list[str]]:
    """Check an embedded text manifest's hard binding here: c2pa-rs cannot locate a manifest in text,
    so it reports every text data hash as a mismatch. The binding holds when its one exclusion is
    exactly the wrapper and the NFC text without it has the signed hash (C2PA 2.2 unstructured text).
    """
    store = detailed.get("manifests", {}).get(detailed.get("active_manifest"), {})
    binding = store.get("assertion_store", {}).get("c2pa.hash.data") or {}
    exclusions = [(e.get("start"), e.get("length")) for e in binding.get("exclusions") or []]
    text = unicodedata.normalize("NFC", text_wrapper.strip(data, found).decode("utf-8"))
    holds = (
        binding.get("alg") == "sha256"
        and exclusions == [(found.start, found.length)]
        and base64.b64decode(binding.get("hash", "")) == hashlib.sha256(text.encode("utf-8")).digest()
    )
    others = [b for b in bad if not b.startswith(_DATA_HASH_FAILS)]
    if not holds:
        return "Invalid", [*others, "assertion.dataHash.mismatch"]
    if others or state != "Invalid":
        return state, others
    return ("Trusted" if "signingCredential.trusted" in ok else "Valid"), others


def _report(
    active: dict[str, Any],
    *,
    state: str | None,
    ok: list[str],
    bad: list[str],
    label: Any,
    manifest_hash: str | None,
) -> CredentialReport:
    """The report on a manifest store c2pa could read: its validation codes and active manifest."""
    generation, actions = _assertions(active, bad)
    sig_info = active.get("signature_info") or {}
    return CredentialReport(
        present=True,
        label=label,
        validation_state=state,
        signature_valid="claimSignature.validated" in ok
        and not any(b.startswith(_SIGNATURE_FAILS) for b in bad),
        trusted=state == "Trusted",
        hash_binding_valid=not any("hash" in b.lower() and "mismatch" in b for b in bad),
        failures=bad,
        generation=generation,
        actions=actions,
        action_details=_action_details(active),
        ingredients=_ingredients(active),
        signer=sig_info.get("common_name") or sig_info.get("issuer"),
        signer_serial=_serial(sig_info.get("cert_serial_number")),
        manifest_hash=manifest_hash,
    )


def _certificate_info(reader: c2pa.Reader) -> dict[str, Any]:
    """The active manifest's ``signature.certificateInfo`` from c2pa's crJSON (subject and issuer
    names), or an empty dict when c2pa cannot give it."""
    try:
        store = json.loads(reader.crjson())
    except (c2pa.C2paError, ValueError):
        return {}
    manifests = store.get("manifests") if isinstance(store, dict) else None
    first = manifests[0] if isinstance(manifests, list) and manifests else {}
    info = (first.get("signature") or {}).get("certificateInfo") if isinstance(first, dict) else None
    return info if isinstance(info, dict) else {}


def _distinguished_name(name: object) -> str | None:
    """``{"C": "US", "O": "Org", "CN": "Name"}`` → ``CN=Name, O=Org, C=US``."""
    if not isinstance(name, dict) or not name:
        return None
    return ", ".join(f"{k}={v}" for k, v in reversed(list(name.items())))


def _claim_generator(active: dict[str, Any]) -> str | None:
    """``name/version`` of each ``claim_generator_info`` entry, else the legacy ``claim_generator``."""
    infos = active.get("claim_generator_info")
    if isinstance(infos, list) and infos:
        parts = [
            f"{i.get('name')}/{i['version']}" if i.get("version") else str(i.get("name"))
            for i in infos
            if isinstance(i, dict) and i.get("name")
        ]
        if parts:
            return " ".join(parts)
    legacy = active.get("claim_generator")
    return str(legacy) if legacy else None


def _signer_info(active: dict[str, Any], certificate: dict[str, Any]) -> SignerInfo:
    sig = active.get("signature_info") or {}
    subject = _distinguished_name(certificate.get("subject"))
    if subject is None and sig.get("common_name"):
        subject = f"CN={sig['common_name']}" + (f", O={sig['issuer']}" if sig.get("issuer") else "")
    return SignerInfo(
        claim_generator=_claim_generator(active),
        subject=subject,
        issuer=_distinguished_name(certificate.get("issuer")),
        signed_at=str(sig["time"]) if sig.get("time") else None,
    )


def _agent_name(agent: object) -> str | None:
    """A ``softwareAgent``: a string (C2PA 1.x) or a generator-info object (2.x)."""
    if isinstance(agent, dict):
        name, version = agent.get("name"), agent.get("version")
        if not name:
            return None
        return f"{name} {version}" if version else str(name)
    return str(agent) if agent else None


def _action_details(active: dict[str, Any]) -> list[ActionInfo]:
    """Every action of the active manifest's ``c2pa.actions`` assertions, with agent and source type."""
    details = []
    for a in active.get("assertions", []):
        if not str(a.get("label", "")).startswith("c2pa.actions"):
            continue
        for x in (a.get("data") or {}).get("actions", []):
            source = x.get("digitalSourceType")
            details.append(
                ActionInfo(
                    action=str(x.get("action")),
                    software_agent=_agent_name(x.get("softwareAgent")),
                    source_type=str(source).rsplit("/", 1)[-1] if source else None,
                )
            )
    return details


def _serial(value: object) -> int | None:
    """c2pa reports the signing certificate's serial as a decimal string."""
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _embedded_manifest_hash(data: bytes, fmt: str) -> str | None:
    """sha-256 of the embedded manifest store, i.e. the bytes the signer returned at signing."""
    try:
        store = extract_manifest_store(data, fmt)
    except ManifestError:
        return None
    return hashlib.sha256(store).hexdigest()


def _sole_store(data: bytes) -> bytes | None:
    """The manifest store of a PNG or WAV whose container holds exactly one (one ``caBX`` or ``C2PA``
    chunk, found by a walk over every chunk that ends exactly at the file's end), else None: then
    which store a reader takes is not settled by the layout alone (JPEG's APP11 segments are not
    walked here)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        found = _walk_chunks(data, 8, "big", b"caBX", b"IEND", pad=False)
    elif data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        if int.from_bytes(data[4:8], "little") + 8 != len(data):
            return None
        found = _walk_chunks(data, 12, "little", b"C2PA", None, pad=True)
    else:
        return None
    return found[0] if found is not None and len(found) == 1 else None


def _walk_chunks(
    data: bytes, pos: int, order: Literal["big", "little"], kind: bytes, last: bytes | None, *, pad: bool
) -> list[bytes] | None:
    """The payloads of every ``kind`` chunk, walking PNG (length, type, data, CRC) or RIFF (id, size,
    data, pad byte) chunks from ``pos``; None unless the walk ends exactly at the end of ``data``
    (after the ``last`` chunk, when given)."""
    found = []
    while pos < len(data):
        if pos + 8 > len(data):
            return None
        if pad:
            ctype, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], order)
            end = pos + 8 + length + (length & 1)
        else:
            length, ctype = int.from_bytes(data[pos : pos + 4], order), data[pos + 4 : pos + 8]
            end = pos + 12 + length
        if end > len(data):
            return None
        if ctype == kind:
            found.append(data[pos + 8 : pos + 8 + length])
        pos = end
        if ctype == last:
            break
    return found if pos == len(data) else None


def extract_manifest_store(data: bytes, media_type: str) -> bytes:
    """The JUMBF manifest store embedded in a PNG (caBX chunk), JPEG (APP11) or WAV (C2PA chunk).

    Other containers (FLAC among them) are not parsed here and raise ManifestError."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_cabx(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_app11(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return _riff_c2pa(data)
    raise ManifestError(f"cannot locate an embedded manifest in this {media_type} file")


def _png_cabx(data: bytes) -> bytes:
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        if ctype == b"caBX":
            return data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raise ManifestError("no caBX chunk in PNG")


def _jpeg_app11(data: bytes) -> bytes:
    """Concatenate the JUMBF payloads of the C2PA APP11 segments (JPEG XT box continuation)."""
    pos, parts, first_header = 2, [], None
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):
            break
        seg_len = int.from_bytes(data[pos + 2 : pos + 4], "big")
        seg = data[pos + 4 : pos + 2 + seg_len]
        if marker == 0xEB and seg[:2] == b"JP":
            # CI(2) En(2) Z(4) then LBox/TBox (8), repeated on continuation segments
            payload = seg[8:]
            if first_header is None:
                first_header = payload[:8]
                parts.append(payload)
            else:
                parts.append(payload[8:])
        pos += 2 + seg_len
    if not parts:
        raise ManifestError("no C2PA APP11 segment in JPEG")
    return b"".join(parts)


def _riff_c2pa(data: bytes) -> bytes:
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"C2PA":
            return data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise ManifestError("no C2PA chunk in WAV")
