"""``/log``: the latest signed checkpoint and RFC 9162 inclusion and consistency proofs
(scope ``read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mintloom.api.auth import AUTH_RESPONSES, READ
from mintloom.api.deps import LogDep
from mintloom.api.errors import ERRORS, InvalidInputError, NotFoundError, parse_cid_param
from mintloom.api.limits import MAX_INDEX
from mintloom.api.models import CheckpointOut, ConsistencyProofOut, InclusionProofOut
from mintloom.errors import ProvenanceError
from mintloom.provenance.log import TransparencyLog

router = APIRouter(tags=["log"], dependencies=[READ], responses=AUTH_RESPONSES)


@router.get("/log/checkpoint", responses={404: ERRORS[404]})
def get_checkpoint(log: LogDep) -> CheckpointOut:
    """The latest signed checkpoint of the transparency log."""
    cp = log.latest_checkpoint()
    if cp is None:
        raise NotFoundError("the log has no checkpoint yet", hint="run a campaign first")
    return CheckpointOut.of(cp)


@router.get("/log/proof/inclusion", responses=ERRORS)
def inclusion_proof(
    log: LogDep,
    cid: Annotated[str, Query(description="CID of the asset")],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="tree size (default: the latest checkpoint's)")
    ] = None,
) -> InclusionProofOut:
    """RFC 9162 inclusion proof of an asset's leaf in the tree of ``size`` leaves."""
    c = parse_cid_param(cid)
    log.refresh()
    leaf = log.leaf(c)
    if leaf is None:
        raise NotFoundError(f"{c} is not in the log")
    n = _tree_size(log, size)
    if leaf.index >= n:
        raise InvalidInputError(
            f"leaf {leaf.index} is not in the tree of size {n}", hint=f"ask for a size above {leaf.index}"
        )
    return InclusionProofOut(
        cid=c,
        leaf_index=leaf.index,
        tree_size=n,
        manifest_hash=leaf.manifest_hash.hex(),
        leaf_hash=leaf.leaf_hash.hex(),
        root=log.root(n).hex(),
        proof=[p.hex() for p in log.inclusion_proof(leaf.index, n)],
        checkpoint=_checkpoint_at(log, n),
    )


@router.get("/log/proof/consistency", responses={422: ERRORS[422]})
def consistency_proof(
    log: LogDep,
    old: Annotated[int, Query(ge=1, le=MAX_INDEX, description="older tree size")],
    new: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="newer size (default: latest checkpoint)")
    ] = None,
) -> ConsistencyProofOut:
    """RFC 9162 proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
    log.refresh()
    n = _tree_size(log, new)
    if old > n:
        raise InvalidInputError(f"old size {old} is larger than new size {n}")
    return ConsistencyProofOut(
        old_size=old,
        new_size=n,
        old_root=log.root(old).hex(),
        new_root=log.root(n).hex(),
        proof=[p.hex() for p in log.consistency_proof(old, n)],
    )


def _tree_size(log: TransparencyLog, asked: int | None) -> int:
    """The tree size a proof is for: the one asked (within the log), else the latest checkpoint's,
    else the whole log."""
    n = asked
    if n is None:
        cp = log.latest_checkpoint()
        n = log.size if cp is None else cp.size
    if n > log.size:
        raise InvalidInputError(f"tree size {n} is beyond the log ({log.size} leaves)")
    return n


def _checkpoint_at(log: TransparencyLog, size: int) -> CheckpointOut | None:
    """The signed checkpoint of ``size``, if one was signed."""
    try:
        return CheckpointOut.of(log.checkpoint_at(size))
    except ProvenanceError:
        return None
