"""The demo's training step: the brand's photography is ingested with one opted-out file
excluded and reported, the tiny copy model is fine-tuned (LoRA) on the brand's past copy and its
signed run registered as its lineage, and a photographer claims their data royalty with a proof.

The photography and past copy are written into the workspace (small, procedural, the same bytes
every time), so every step is idempotent: a rerun finds the datasets, run and claim done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mintloom.cli.console import console

if TYPE_CHECKING:
    from mintloom.ledger.client import ChainClient
    from mintloom.studio import Studio

PHOTOGRAPHER = 4
"""anvil development account of the photographer who shot the brand's photos"""
OPTED_OUT = "studio-portrait.png"
PAST_COPY = {
    "spring.txt": "light your home with lumen",
    "autumn.txt": "warm light for soft evenings",
    "winter.txt": "bright lamps for the nights",
    "launch.txt": "new lumen lamps shop now",
}
DATA_SHARE_WEI = 10**15


def training_step(say: Callable[[str], None], studio: Studio, party: Callable[[int], ChainClient]) -> None:
    """Ingest the photography and past copy, train and register the copy model, pay a contributor."""
    import importlib.util

    if importlib.util.find_spec("peft") is None or importlib.util.find_spec("torch") is None:
        say("training step skipped: it needs the train extra (pip install 'mintloom[train]')")
        return
    root = studio.workspace.root / "training"
    photos = _ingest_photography(say, studio, root, party(PHOTOGRAPHER).address)
    _train_copy_model(say, studio, root)
    _claim_data_royalty(say, studio, photos, party(PHOTOGRAPHER))


def _photography(folder: Path) -> Path:
    """Six small brand-colour photos (one its subject opted out of training)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate([f"shoot-{n}.png" for n in range(1, 6)] + [OPTED_OUT]):
        if not (folder / name).exists():
            Image.new("RGB", (16, 16), (240 - 20 * i, 180 + 10 * i, 60 + 30 * i)).save(folder / name)
    return folder


def _ingest_photography(say: Callable[[str], None], studio: Studio, root: Path, photographer: str) -> int:
    from mintloom.ledger.datasets import ingest_and_register
    from mintloom.provenance.ingest import Contributor, IngestOptions

    folder = _photography(root / "photography")
    say(f"ingesting the brand photography {folder} (the opt-out list names {OPTED_OUT})")
    shots = {f"shoot-{n}.png": Contributor(photographer) for n in range(1, 4)}
    opts = IngestOptions("CC-BY-4.0", studio.chain.address, shots, frozenset({OPTED_OUT}))
    r = ingest_and_register(
        studio.chain, studio.db, studio.blobs, folder, name="lumen-photography", options=opts
    )
    for x in r.done.excluded:
        console.print(f"    excluded {x.path}: {x.reason}")
    ing = r.ingestion
    console.print(f"    {ing.count} files, root {ing.root.hex()[:16]}… as dataset #{r.registered.onchain_id}")
    return r.registered.onchain_id


def _train_copy_model(say: Callable[[str], None], studio: Studio, root: Path) -> None:
    from mintloom.engines.tiny_text import build_tiny_text_model
    from mintloom.engines.training import LoraParams
    from mintloom.ledger.datasets import ingest_and_register
    from mintloom.ledger.training import TrainRequest, train_and_register
    from mintloom.provenance.ingest import IngestOptions

    copy = root / "past-copy"
    copy.mkdir(parents=True, exist_ok=True)
    for name, text in PAST_COPY.items():
        (copy / name).write_text(text, encoding="utf-8")
    say("training the tiny copy model on the brand's past copy (LoRA), its signed run registered as lineage")
    opts = IngestOptions("proprietary", studio.chain.address)
    ingest_and_register(studio.chain, studio.db, studio.blobs, copy, name="lumen-past-copy", options=opts)
    base = root / "base-model"
    if not base.exists():
        build_tiny_text_model(base)
    req = TrainRequest("lumen-copy-lora", base, (("lumen-past-copy", copy),), root / "copy-model",
                       "proprietary", 0, LoraParams(epochs=1))  # fmt: skip
    t = train_and_register(studio.chain, studio.db, studio.blobs, studio.signer, req)
    console.print(
        f"    model #{t.registered.onchain_id} weights {t.record.output_weights_hash[:16]}…, "
        f"run {t.run_cid} trained on {', '.join(d.name for d in t.record.datasets)}"
    )


def _claim_data_royalty(
    say: Callable[[str], None], studio: Studio, dataset_id: int, photographer: ChainClient
) -> None:
    from mintloom.governance import contributor_royalties as cr
    from mintloom.ledger.datasets import contributor_weights

    say("the photographer claims their data royalty with a Merkle proof")
    weights = contributor_weights(studio.db, studio.blobs, "lumen-photography")
    d, _cid, _tx = cr.post(
        studio.chain, studio.blobs, dataset_id=dataset_id, epoch=0, weights=weights, total=DATA_SHARE_WEI
    )
    mine = next(a for a in d.allocations if a.account.lower() == photographer.address.lower())
    if studio.chain.call(cr.CONTRACT, "isClaimed", dataset_id, 0, mine.index):
        console.print(f"    already claimed: {mine.amount} wei of {DATA_SHARE_WEI}")
        return
    tx = cr.claim(photographer, d, photographer.address)
    console.print(f"    {photographer.address} claimed {mine.amount} wei of {DATA_SHARE_WEI} in {tx.tx_hash}")
