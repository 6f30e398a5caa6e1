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
from pathlib import Path
from typing import TypeVar

from mintloom.campaign.spec import CampaignSpec, LineageSpec
from mintloom.errors import EngineError, LedgerError, LicenseViolation, LineageMismatch
from mintloom.governance.licenses import resolve_terms, terms_of
from mintloom.ledger.client import ChainClient
from mintloom.ledger.lineage import (
    CONTRACT,
    DatasetInfo,
    ModelInfo,
    dataset_info,
    resolve_dataset,
    resolve_model,
)
from mintloom.ledger.training import model_hash
from mintloom.store.db import Database

_Info = TypeVar("_Info", DatasetInfo, ModelInfo)
_NON_COMMERCIAL = re.compile(r"(^|[-_ ])NC([-_ ]|$)|non[- ]?commercial", re.IGNORECASE)


def is_non_commercial(license: str) -> bool:
    return bool(_NON_COMMERCIAL.search(license))


def check_lineage(chain: ChainClient, db: Database, spec: CampaignSpec, spec_dir: Path | None = None) -> None:
    """Refuse the run if an ingredient's terms forbid it; ``spec_dir`` (where the spec's relative
    paths start) lets the copy model's weights be checked against a trained model's registration."""
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
        if spec_dir is not None:
            _check_copy_weights(chain, spec, lineage.model, model, spec_dir)


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


def _check_copy_weights(
    chain: ChainClient, spec: CampaignSpec, model: str, info: ModelInfo, spec_dir: Path
) -> None:
    """A model registered with a training run is the weights that run produced: a campaign that
    names it must run those weights (as its copy model or its hero pipeline), not others (whose
    training the chain says nothing about)."""
    folders = _model_folders(spec, spec_dir)
    if not folders:
        return
    if not any(bytes(chain.call(CONTRACT, "trainingRun", info.onchain_id))):
        return  # declared weights (`model register`): hashed per file, not comparable to a folder
    registered = bytes(chain.call(CONTRACT, "model", info.onchain_id)[0]).hex()
    used = {}
    for role, folder in folders.items():
        try:
            used[role] = model_hash(folder)
        except EngineError as exc:
            raise LineageMismatch(f"the {role} model at {folder} cannot be hashed: {exc.message}") from exc
    if registered not in used.values():
        runs = ", ".join(f"{role} {h[:16]}… at {folders[role]}" for role, h in used.items())
        raise LineageMismatch(
            f"the campaign names model {model!r} (#{info.onchain_id}, weights {registered[:16]}…) but "
            f"runs other weights ({runs})",
            hint="point the model_path at the trained model's folder, or name the model it is",
        )


def _model_folders(spec: CampaignSpec, spec_dir: Path) -> dict[str, Path]:
    """The local model folders the campaign runs: its copy model and its hero pipeline."""
    folders = {}
    copy_path = spec.copy_.model.get("model_path")
    if spec.copy_.engine == "transformers-text" and copy_path is not None:
        folders["copy"] = spec_dir / str(copy_path)
    hero = spec.brand.hero
    if hero is not None and hero.engine == "diffusers" and hero.model.get("model_path") is not None:
        folders["hero"] = spec_dir / str(hero.model["model_path"])
    return folders


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
