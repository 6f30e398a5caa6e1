"""`mintloom model train`: LoRA fine-tuning on ingested datasets, the run registered as lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mintloom.cli.console import console, studio
from mintloom.errors import SpecInputError


def add_commands(model_app: typer.Typer) -> None:
    """Add ``train`` to ``model``."""
    model_app.command("train")(train)


def train(
    name: Annotated[str, typer.Argument(help="Name of the trained model (campaign specs use it).")],
    *,
    base: Annotated[
        Path,
        typer.Option(
            help="Local folder of the base model: a causal text model, or a diffusers pipeline "
            "(its UNet's attention is fine-tuned on image datasets, captioned by file name)."
        ),
    ],
    dataset: Annotated[list[str], typer.Option(help="Ingested dataset to train on (repeatable).")],
    data: Annotated[
        list[Path], typer.Option(help="The folder each --dataset was ingested from, in the same order.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the trained model (replaced whole).")],
    method: Annotated[str, typer.Option(help="Fine-tuning method (only lora).")] = "lora",
    license_: Annotated[str, typer.Option("--license", help="Licence of the trained model.")] = "proprietary",
    seed: Annotated[
        int, typer.Option(min=0, max=2**63 - 1, help="Seed: the same inputs and seed give the same weights.")
    ] = 0,
    epochs: Annotated[int, typer.Option(min=1, max=100)] = 2,
    rank: Annotated[int, typer.Option(min=1, max=256, help="LoRA rank.")] = 4,
    learning_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 5e-3,
) -> None:
    """Fine-tune BASE on the committed files of the datasets, sign the training-run record (a
    sidecar next to the weights), store it and register model and run on LineageRegistry."""
    from mintloom.engines.training import LoraParams
    from mintloom.ledger.training import TrainRequest, train_and_register

    if method != "lora":
        raise SpecInputError(f"unknown training method {method!r}", hint="use --method lora")
    _check_inputs(name, learning_rate)
    if len(dataset) != len(data):
        raise SpecInputError("give one --data folder per --dataset, in the same order")
    params = LoraParams(rank=rank, alpha=2 * rank, epochs=epochs, learning_rate=learning_rate)
    req = TrainRequest(name, base, tuple(zip(dataset, data, strict=True)), out, license_, seed, params)
    s = studio()
    s.contracts()
    r = train_and_register(s.chain, s.db, s.blobs, s.signer, req)
    state = "registered" if r.registered.created else "already registered"
    how = "trained" if r.trained else "resumed from the interrupted run's weights"
    console.print(f"model {name!r} {how}: weights {r.record.output_weights_hash} in {out}")
    console.print(f"training run {r.run_cid} (signed sidecar); {state} as #{r.registered.onchain_id}")


def _check_inputs(name: str, learning_rate: float) -> None:
    """Refuse, before anything is trained or written, what click lets through: a zero learning rate
    (the base weights would be signed and registered as a trained model) and a name that is no
    plain identifier (``../x``, a NUL, 10 KB of text: it is stored and registered on chain)."""
    from mintloom.store.files import is_safe_name

    if not learning_rate > 0:
        raise SpecInputError(f"--learning-rate {learning_rate} is not a positive number", hint="e.g. 5e-3")
    if not is_safe_name(name):
        raise SpecInputError(
            f"model name {name!r} is not a plain name",
            hint="letters, digits, '.', '_' and '-', at most 64 characters, not starting with '.'",
        )
