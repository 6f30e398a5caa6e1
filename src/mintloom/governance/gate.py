"""License-gated generation: refuse a run whose ingredients' terms forbid it.

Before anything is planned or generated (the pipeline's gate stage, :mod:`mintloom.pipeline`),
every ingredient named in the spec's ``lineage`` is checked against what is recorded on chain:

* each dataset and the model must be registered, by the party expected to hold it (the
  registrant recorded when it was registered here, or the pinned third-party curator/trainer);
  an unregistered ingredient's terms are unknown, and an entry somebody else registered for the
  same datasheet or weights is not ours to rely on (:class:`UntrustedIngredient`);
* a model trained on a dataset whose terms forbid AI training, or (for commercial outputs) a
  non-commercial one, is refused: the datasets its registered lineage names, which for a model
  trained here are those its signed training run used (:mod:`mintloom.ledger.training`);
* datasets that forbid AI training cannot feed a model-backed generation, nor outputs whose
  own terms allow AI training;
* a non-commercial dataset or model licence (``NC`` / ``non-commercial``) cannot produce
  outputs licensed for commercial use.

Each refusal is a :class:`~mintloom.errors.LicenseViolation` naming the ingredient and the term.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from mintloom.campaign.spec import CampaignSpec, LineageSpec
from mintloom.errors import LedgerError, LicenseViolation
from mintloom.governance.licenses import resolve_terms, terms_of
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import DatasetInfo, ModelInfo, dataset_info, resolve_dataset, resolve_model
from mintloom.store.db import Database

_Info = TypeVar("_Info", DatasetInfo, ModelInfo)
_NON_COMMERCIAL = re.compile(r"(^|[-_ ])NC([-_ ]|$)|non[- ]?commercial", re.IGNORECASE)


def is_non_commercial(license: str) -> bool:
    return bool(_NON_COMMERCIAL.search(license))


def check_lineage(chain: ChainClient, db: Database, spec: CampaignSpec) -> None:
    lineage = spec.lineage
    kinds = {"image", "copy"} | ({"audio"} if spec.audio.enabled else set())
    commercial = any(
        terms_of(chain, resolve_terms(spec.governance.terms[k])).commercial_use
        for k in kinds
        if k in spec.governance.terms
    )
    for ds in lineage.datasets:
        _check_dataset(ds, _registered(chain, db, resolve_dataset, ds), lineage, commercial=commercial)
    if lineage.model is not None:
        model = _registered(chain, db, resolve_model, lineage.model)
        _check_model(chain, lineage.model, model, commercial=commercial)


def _registered(
    chain: ChainClient, db: Database, resolve: Callable[[ChainClient, Database, str], _Info], name: str
) -> _Info:
    """The on-chain record of a named ingredient; unregistered means its terms are unknown."""
    try:
        return resolve(chain, db, name)
    except LedgerError as exc:
        raise LicenseViolation(f"{exc.message}: its licence terms are unknown", hint=exc.hint) from exc


def _check_dataset(ds: str, info: DatasetInfo, lineage: LineageSpec, *, commercial: bool) -> None:
    if not info.ai_training_allowed and lineage.model is not None:
        raise LicenseViolation(
            f"dataset {ds!r} forbids AI training and data mining (aiTrainingAllowed = false), "
            f"but the campaign generates with model {lineage.model!r}"
        )
    if not info.ai_training_allowed and lineage.ai_training == "allowed":
        raise LicenseViolation(
            f"dataset {ds!r} forbids AI training, so its outputs cannot declare ai_training: allowed"
        )
    if commercial and is_non_commercial(info.license):
        raise LicenseViolation(
            f"dataset {ds!r} is licensed {info.license!r} (non-commercial) "
            "but the outputs get commercial terms"
        )


def _check_model(chain: ChainClient, model: str, info_m: ModelInfo, *, commercial: bool) -> None:
    """The model's own licence, and the terms of every dataset its registered lineage (for a
    model trained here, the datasets its training run used) says it was trained on."""
    for ds_id in info_m.trained_on:
        _check_training_data(model, dataset_info(chain, ds_id), commercial=commercial)
    if commercial and is_non_commercial(info_m.license):
        raise LicenseViolation(
            f"model {model!r} is licensed {info_m.license!r} (non-commercial) "
            "but the outputs get commercial terms"
        )


def _check_training_data(model: str, ds: DatasetInfo, *, commercial: bool) -> None:
    if not ds.ai_training_allowed:
        raise LicenseViolation(
            f"model {model!r} was trained on dataset #{ds.onchain_id} whose terms forbid AI training "
            f"(licence {ds.license!r})"
        )
    if commercial and is_non_commercial(ds.license):
        raise LicenseViolation(
            f"model {model!r} was trained on dataset #{ds.onchain_id}, licensed {ds.license!r} "
            "(non-commercial), but the outputs get commercial terms"
        )
