"""Training-run records: what a model was trained on and how, signed by the workspace signer.

No C2PA format exists for a SafeTensors weights file in c2pa-python, so the record travels as a
signed sidecar (``training-run.json`` next to the weights): the canonical record JSON, the raw
signature over it and the signer's certificate chain. The sidecar is stored content-addressed as
one raw block, and its sha-256 (that block's digest) is what ``LineageRegistry`` keeps as the
model's run hash: the chain binds the model to exactly this signed record.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mintloom.errors import RunSignatureInvalid, TrainingRecordError
from mintloom.provenance.keys import Signer, verify_raw_signature
from mintloom.store.cid import CHUNK_SIZE

RECORD_FORMAT = "mintloom-training-run/1"
SIGNED_FORMAT = "mintloom-signed-training-run/1"
SIDECAR_NAME = "training-run.json"


class DatasetUse(BaseModel):
    """One dataset a run trained on: its registry entry, file root and count, manifest and contributors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    registry_id: int
    root: str
    count: int
    manifest_cid: str
    contributors: int


class TrainingRecord(BaseModel):
    """Everything that determined the weights, and the weights it produced."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: str = RECORD_FORMAT
    model: str
    license: str
    base_model_hash: str
    method: str
    hyper_parameters: dict[str, Any]
    code_version: dict[str, str]
    seed: int
    datasets: tuple[DatasetUse, ...]
    chain_id: int
    registry: str
    trainer: str
    output_weights_hash: str

    def canonical(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    def same_inputs(self, other: TrainingRecord) -> bool:
        """Both records describe the same training (everything but the weights produced)."""
        return self.model_copy(update={"output_weights_hash": ""}) == other.model_copy(
            update={"output_weights_hash": ""}
        )


class SignedRun(BaseModel):
    """The sidecar: the record as signed, with its signature and the signer's chain."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: str = SIGNED_FORMAT
    record: str
    alg: str
    certificate_chain: str
    signature: str

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=1).encode() + b"\n"

    def parsed(self) -> TrainingRecord:
        return _parse(TrainingRecord, self.record.encode(), "training-run record")


def sign_run(record: TrainingRecord, signer: Signer) -> SignedRun:
    data = record.canonical()
    signed = SignedRun(
        record=data.decode(),
        alg=signer.alg,
        certificate_chain=signer.certificate_chain_pem.decode(),
        signature=signer.sign(data).hex(),
    )
    if len(signed.to_bytes()) > CHUNK_SIZE:
        raise TrainingRecordError("the training-run record is too large for one content block")
    return signed


def read_signed(raw: bytes) -> SignedRun:
    """Parse a sidecar and refuse, by name, one whose signature does not cover its record."""
    signed = _parse(SignedRun, raw, "signed training-run record")
    if signed.format != SIGNED_FORMAT:
        raise TrainingRecordError(f"not a signed training-run record (format {signed.format!r})")
    try:
        ok = verify_raw_signature(
            signed.certificate_chain.encode(), signed.record.encode(), bytes.fromhex(signed.signature)
        )
    except ValueError as exc:
        raise RunSignatureInvalid(f"the training-run record's signature is malformed: {exc}") from exc
    if not ok:
        raise RunSignatureInvalid(
            "the training-run record's signature does not match its record: it was altered",
            hint="use the record exactly as the trainer signed it",
        )
    signed.parsed()
    return signed


M = TypeVar("M", bound=BaseModel)


def _parse(kind: type[M], raw: bytes, what: str) -> M:
    try:
        return kind.model_validate_json(raw)
    except ValidationError as exc:
        raise TrainingRecordError(f"not a {what}: {exc.errors()[0]['msg']}") from exc
