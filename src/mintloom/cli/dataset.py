"""`mintloom dataset ingest|prove` and `mintloom verify --dataset-proof`: provable ingestion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mintloom.cli.console import console, studio
from mintloom.errors import VerifyInputError
from mintloom.store.files import MAX_SMALL_TEXT_BYTES, read_regular

if TYPE_CHECKING:
    from mintloom.ledger.reader import ChainReader
    from mintloom.provenance.ingest import Ingested


def add_commands(dataset_app: typer.Typer, royalties_app: typer.Typer) -> None:
    """Add ``ingest`` and ``prove`` to ``dataset``, ``distribute`` to ``royalties``."""
    dataset_app.command("ingest")(ingest)
    dataset_app.command("prove")(prove)
    royalties_app.command("distribute")(distribute)


def ingest(
    folder: Annotated[Path, typer.Argument(help="Folder of the dataset's files (walked recursively).")],
    *,
    name: Annotated[str, typer.Option(help="Name of the dataset (campaign specs and proofs use it).")],
    license_: Annotated[str, typer.Option("--license", help="Licence of the files, e.g. CC-BY-4.0.")],
    contributors: Annotated[
        Path | None, typer.Option(help="CSV of path,contributor address[,weight] (others: the curator).")
    ] = None,
    opt_out: Annotated[
        Path | None, typer.Option("--opt-out", help="Opt-out list: one CID or folder-relative path a line.")
    ] = None,
    ai_training: Annotated[bool, typer.Option(help="Whether the curator allows AI training.")] = True,
) -> None:
    """Ingest a folder: every file's CID, opt-outs excluded with their reason, an RFC 9162 Merkle
    root over the sorted entries, a datasheet template and the manifest stored content-addressed;
    root, count, licence and curator (the sender) registered on LineageRegistry."""
    from mintloom.ledger.datasets import ingest_and_register
    from mintloom.provenance.ingest import IngestOptions, load_contributors, load_opt_out

    options = IngestOptions(
        license_,
        curator="0x" + "0" * 40,  # replaced by the sender
        contributors=load_contributors(contributors) if contributors else {},
        opt_out=load_opt_out(opt_out) if opt_out else frozenset(),
    )
    s = studio()
    s.contracts()
    r = ingest_and_register(
        s.chain, s.db, s.blobs, folder, name=name, options=options, ai_training=ai_training
    )
    ing = r.ingestion
    _print_excluded(r.done)
    state = "registered" if r.registered.created else "already registered"
    console.print(
        f"dataset {name!r}: {ing.count} files, root {ing.root.hex()}, {state} as #{r.registered.onchain_id}"
    )
    console.print(f"manifest {ing.manifest_cid}; datasheet template {ing.datasheet_cid} (complete it)")


def _print_excluded(done: Ingested) -> None:
    if not done.excluded:
        return
    table = Table(title=f"{len(done.excluded)} file(s) excluded")
    for col in ("file", "reason", "detail"):
        table.add_column(col)
    for x in done.excluded:
        table.add_row(x.path, x.reason, x.detail)
    console.print(table)


def prove(
    file: Annotated[Path, typer.Argument(help="The file to prove.")],
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    out: Annotated[Path | None, typer.Option(help="Write the proof JSON here (default: print it).")] = None,
) -> None:
    """The inclusion proof of FILE in DATASET, checked against the root on chain before it is shown."""
    from mintloom.ledger.datasets import prove_file

    s = studio(read_only=True)
    proof = prove_file(s.chain_reader(), s.db, s.blobs, file, dataset)
    text = proof.to_json()
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    console.print(f"proof of {proof.entry.cid} (leaf {proof.index} of {proof.size}) written to {out}")


def verify_proof(file: Path, proof_file: Path, *, rpc: str | None, contracts: Path | None) -> None:
    """``mintloom verify --dataset-proof``: read only; exits 0 if the proof holds, else raises."""
    from mintloom.ledger.datasets import verify_file_proof
    from mintloom.provenance.dataset import proof_from_json

    raw = read_regular(proof_file, limit=MAX_SMALL_TEXT_BYTES, what="dataset proof", error=VerifyInputError)
    proof = proof_from_json(raw)
    verify_file_proof(_reader(proof.registry.registry, rpc, contracts), proof, file)
    r = proof.registry
    console.print(
        f"[bold green]INCLUDED[/] {file}: {proof.entry.cid} is leaf {proof.index} of {proof.size} in "
        f"dataset {proof.dataset!r} (#{r.dataset_id} on chain {r.chain_id}, curated by {r.curator}; "
        f"licence {proof.entry.license}, contributor {proof.entry.contributor})"
    )


def _reader(registry: str, rpc: str | None, contracts: Path | None) -> ChainReader:
    from mintloom.ledger.reader import ChainReader

    if rpc is None:
        return studio(read_only=True).chain_reader()
    if contracts is not None:
        return ChainReader.from_deployments(rpc, contracts)
    reader = ChainReader(rpc)
    reader.learn("LineageRegistry", registry)  # memory only: the proof's registry, shown to the user
    console.print(f"[yellow]registry {registry} taken from the proof[/] (pin it with --contracts)")
    return reader


def distribute(
    dataset: Annotated[str, typer.Argument(help="Dataset name (you must be its curator).")],
    *,
    epoch: Annotated[int, typer.Option(min=0, help="Revenue epoch (one distribution each).")],
    amount_wei: Annotated[int, typer.Option(min=1, help="The data share to distribute, in wei.")],
    out: Annotated[Path, typer.Option(help="Write the distribution (every leaf) here for contributors.")],
) -> None:
    """Pay a dataset's data share to its contributors pro rata: one root posted, each claims with
    `mintloom royalties claim --as-contributor DISTRIBUTION.json`."""
    from mintloom.governance import contributor_royalties as cr
    from mintloom.ledger.datasets import contributor_weights, registry_ref

    s = studio()
    s.contracts()
    ref = registry_ref(s.chain, s.db, dataset)
    weights = contributor_weights(s.db, s.blobs, dataset)
    d, cid, tx = cr.post(
        s.chain, s.blobs, dataset_id=ref.dataset_id, epoch=epoch, weights=weights, total=amount_wei
    )
    out.write_bytes(d.to_json())
    console.print(
        f"epoch {epoch} of {dataset!r}: {d.allocated} wei to {len(d.allocations)} contributor(s), "
        f"{d.dust} wei dust back to you; distribution {cid} written to {out} (tx {tx.tx_hash})"
    )


def claim_as_contributor(distribution: Path) -> None:
    """``royalties claim --as-contributor``: claim the sender's leaf of a posted distribution."""
    from mintloom.errors import GovernanceError
    from mintloom.governance import contributor_royalties as cr

    raw = read_regular(
        distribution, limit=256 * MAX_SMALL_TEXT_BYTES, what="distribution", error=GovernanceError
    )
    d = cr.parse(raw)
    chain = studio().chain
    tx = cr.claim(chain, d, chain.address)
    mine = next(a for a in d.allocations if a.account.lower() == chain.address.lower())
    console.print(
        f"[green]claimed[/] {mine.amount} wei (epoch {d.epoch}, dataset #{d.dataset_id}) in {tx.tx_hash}"
    )
