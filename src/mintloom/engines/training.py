"""LoRA fine-tuning of a local causal text model (optional extra: ``mintloom[train]``).

The base model is read from a local folder only (``local_files_only``); the adapter is trained
with ``peft`` on CPU (or the GPU when present), merged into the base weights and saved as
SafeTensors with the base tokenizer, so the copy engine (:mod:`mintloom.engines.transformers_text`)
loads the result like any model folder. Training is deterministic for a seed on one device:
samples in a fixed order, dropout off, torch's deterministic algorithms on. The folder is written
under a temporary name and renamed into place, so a crash never leaves half a model at ``out``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mintloom.engines.transformers_text import weights_hash
from mintloom.errors import EngineError, ModelLoadError
from mintloom.faults import crash_point
from mintloom.store.files import pid_alive, sync_files

METHOD = "lora"
TRAINER = "mintloom-lora"
TRAINER_VERSION = "1.0.0"


@dataclass(frozen=True)
class LoraParams:
    """Hyper-parameters of a LoRA run (all recorded in the training-run record)."""

    rank: int = 4
    alpha: int = 8
    epochs: int = 2
    learning_rate: float = 5e-3
    max_length: int = 64
    target_modules: tuple[str, ...] = field(default_factory=tuple)
    """empty: peft's default for the architecture"""

    def as_record(self) -> dict[str, Any]:
        return {**asdict(self), "target_modules": list(self.target_modules), "dropout": 0.0}


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shaped the weights (the record's code version)."""
    import peft
    import torch
    import transformers

    return {"peft": peft.__version__, "torch": torch.__version__, "transformers": transformers.__version__}


def train_lora(base: Path, texts: list[str], out: Path, *, seed: int, params: LoraParams) -> str:
    """Fine-tune ``base`` on ``texts`` with LoRA, write the merged model to ``out`` (replaced
    whole) and return its weights hash (as the copy engine records it)."""
    if not texts:
        raise EngineError("nothing to train on: the dataset has no text")

    def fit_and_save(tmp: Path) -> None:
        tokenizer, model = _load(base, params)
        _fit(model, tokenizer, texts, params)
        merged = model.merge_and_unload()
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)

    write_trained(base, out, seed, fit_and_save, needs="torch, transformers and peft", extra="train")
    return weights_hash(out)


def write_trained(
    base: Path, out: Path, seed: int, fit_and_save: Callable[[Path], None], *, needs: str, extra: str
) -> None:
    """Run ``fit_and_save`` deterministically into a temp folder beside ``out``, then swap it in
    whole (a kill leaves the old ``out`` or the new one, restored on the next call)."""
    try:
        import torch
    except ImportError as exc:
        raise EngineError(f"training needs {needs}", hint=f"pip install 'mintloom[{extra}]'") from exc
    _restore(out)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    try:
        fit_and_save(tmp)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise EngineError(f"training on {base} failed: {exc}") from exc
    finally:
        torch.use_deterministic_algorithms(False)
    _swap_in(tmp, out)


def _load(base: Path, params: LoraParams) -> tuple[Any, Any]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the base model at {base}: {exc}") from exc
    config = LoraConfig(
        r=params.rank,
        lora_alpha=params.alpha,
        lora_dropout=0.0,
        target_modules=list(params.target_modules) or None,
        task_type="CAUSAL_LM",
    )
    return tokenizer, get_peft_model(model, config)


def _fit(model: Any, tokenizer: Any, texts: list[str], params: LoraParams) -> None:
    """Plain AdamW over the samples one at a time, in the given order, for ``epochs`` passes."""
    import torch

    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=params.learning_rate)
    model.train()
    for _ in range(params.epochs):
        for text in texts:
            batch = tokenizer(text, return_tensors="pt", truncation=True, max_length=params.max_length)
            if batch["input_ids"].shape[1] < 2:
                continue  # one token predicts nothing
            loss = model(**batch, labels=batch["input_ids"]).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    model.eval()


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` with ``tmp`` by renames, the new files durable first. A kill between the
    two renames leaves the old folder under its hidden name; :func:`_restore` puts it back."""
    sync_files([p for p in tmp.rglob("*") if p.is_file()])
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    crash_point("train.swap")
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _restore(out: Path) -> None:
    """Undo a swap a kill interrupted: with no ``out``, its old folder returns; the stale old
    folders and the partial folders of dead trainers go."""
    olds = sorted(out.parent.glob(f".{out.name}.old-*"))
    if not out.exists() and olds:
        olds.pop().rename(out)
    partials = out.parent.glob(f".{out.name}.partial-*")
    dead = [p for p in partials if not _writer_alive(p.name.rsplit("-", 1)[-1])]
    for stale in [*olds, *dead]:
        shutil.rmtree(stale, ignore_errors=True)


def _writer_alive(pid: str) -> bool:
    """Whether the process ``pid`` (a folder-name suffix) still runs."""
    return pid.isdigit() and pid_alive(int(pid))
