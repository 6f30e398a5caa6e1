"""The UGC attester: the off-chain service a family's DAO names to vouch for remixes.

``UGCRewards`` cannot see pixels or credentials. With an attester named it pays only children the
attester attested, and only to the creator the attestation names. The attester vouches for a
child after checking, with c2pa and the fingerprints:

- the child's Content Credential is present, untampered, and its signer chains to the trust
  anchor the creator's organisation published (``mintloom keys trust-anchor``);
- it names the given parent, by that parent's own signed manifest, as its ``parentOf`` ingredient;
- it names its creator's chain account (``mintloom.generation`` ``creator_account``, signed with
  the rest): the copy of a child in someone else's log has the same bytes, so the same creator;
- the child is not the parent picture again (``ugc.check_remix``).

Then it sends ``attest((child, parent, creator))``. Each refusal is named before anything is sent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from mintloom.errors import (
    AlreadyAttestedError,
    ChildCredentialError,
    ContractError,
    NoCreatorNamedError,
    NotAttesterError,
    ParentNotIngredientError,
)
from mintloom.governance.ugc import RemixDistance, check_remix, pool_contract
from mintloom.ledger.assets import token_id
from mintloom.ledger.client import ChainClient
from mintloom.provenance.content_credentials import CredentialReport, read_credentials
from mintloom.store.cid import cid_for

_TOLERATED = frozenset({"signingCredential.untrusted"})
"""An ingredient failure that is not the parent's fault: the fan's signing tool did not trust the
brand's root (the parent's own credential is checked on its own)."""


@dataclass(frozen=True)
class ChildFacts:
    """What the attester established about a child before vouching for it."""

    child: str
    parent: str
    creator: str
    signer: str | None
    distance: RemixDistance


@dataclass(frozen=True)
class Attested:
    facts: ChildFacts
    tx_hash: str | None
    """None when the pool held this very attestation already (nothing was sent)."""


def _media_type(data: bytes, what: str) -> str:
    try:
        fmt = Image.open(io.BytesIO(data)).format
    except (OSError, Image.DecompressionBombError) as exc:
        raise ChildCredentialError(f"the {what} is not an image mintloom can read: {exc}") from exc
    if fmt not in {"PNG", "JPEG", "WEBP"}:
        raise ChildCredentialError(f"the {what} is a {fmt} image", hint="remixes are PNG, JPEG or WebP")
    return f"image/{fmt.lower()}"


def _child_credential(child: bytes, trust_anchors_pem: str) -> CredentialReport:
    """The child's credential: present, intact, its signer certified by the trust anchor."""
    cred = read_credentials(child, _media_type(child, "child"), trust_anchors_pem=trust_anchors_pem)
    if not cred.present or cred.error is not None:
        raise ChildCredentialError(f"the child carries no readable Content Credential ({cred.error})")
    if not cred.signature_valid or cred.tampered or cred.claim_altered:
        why = ", ".join(cred.failures) or "invalid signature"
        raise ChildCredentialError(f"the child's Content Credential does not validate: {why}")
    if not cred.trusted:
        raise ChildCredentialError(
            f"the child's signer ({cred.signer}) does not chain to the given trust anchor",
            hint="pass the creator organisation's root (`mintloom keys trust-anchor` in its workspace)",
        )
    return cred


def _names_parent(cred: CredentialReport, parent: bytes) -> None:
    """The child's ``parentOf`` ingredient is ``parent``'s own signed manifest."""
    own = read_credentials(parent, _media_type(parent, "parent"))
    if not own.present or not own.signature_valid or own.label is None:
        raise ParentNotIngredientError(
            "the parent carries no valid Content Credential to be named by the child"
        )
    for ing in cred.ingredients:
        if ing.relationship == "parentOf" and ing.active_manifest == own.label:
            if set(ing.failures) <= _TOLERATED:
                return
            raise ParentNotIngredientError(
                f"the child's parentOf ingredient failed validation: {', '.join(ing.failures)}"
            )
    raise ParentNotIngredientError(
        "the child's credential does not name this parent as its parentOf ingredient",
        hint="pass the asset the child was remixed from as --parent",
    )


def check_child(child: bytes, parent: bytes, trust_anchors_pem: str) -> ChildFacts:
    """Every off-chain check the attester makes (no chain read); refusals by name."""
    cred = _child_credential(child, trust_anchors_pem)
    _names_parent(cred, parent)
    creator = cred.generation.creator_account if cred.generation is not None else None
    if creator is None:
        raise NoCreatorNamedError(
            "the child's credential names no creator account",
            hint="remix with `mintloom remix` (it names this workspace's chain account as creator)",
        )
    distance = check_remix(parent, child)
    return ChildFacts(str(cid_for(child)), str(cid_for(parent)), creator, cred.signer, distance)


def attest_child(
    chain: ChainClient, rewards: str, child: bytes, parent: bytes, trust_anchors_pem: str
) -> Attested:
    """Check ``child`` and attest it, for the creator its credential names, at the family pool
    ``rewards``; the sender must be that pool's attester."""
    facts = check_child(child, parent, trust_anchors_pem)
    pool = pool_contract(chain, rewards)
    attester = str(pool.functions.parameters().call()[6])
    if attester.lower() != str(chain.address).lower():
        raise NotAttesterError(
            f"{chain.address} is not the attester of the pool at {rewards} (it is {attester})",
            hint="the family's DAO names its attester (`mintloom dao propose --attester ADDRESS`)",
        )
    entry = (token_id(facts.child), token_id(facts.parent), chain.w3.to_checksum_address(facts.creator))
    _, parent, creator = pool.functions.attestation(entry[0]).call()
    if int(creator, 16) != 0:
        if (int(parent), str(creator)) != entry[1:]:
            raise AlreadyAttestedError(
                f"{facts.child} was attested before, for {creator} as a remix of token {hex(int(parent))}",
                hint="attestations are final",
            )
        return Attested(facts, None)  # attested already: nothing to send
    abi = chain.artifact("UGCRewards").abi
    try:
        tx = chain.transact_at(rewards, abi, "attest", [entry], kind=f"ugc:attest:{facts.child}")
    except ContractError as exc:
        if exc.error_name == "NotAttester":
            raise NotAttesterError(f"the pool refused {chain.address} as its attester") from exc
        if exc.error_name == "AlreadyAttested":
            raise AlreadyAttestedError(f"{facts.child} was attested before: {exc.message}") from exc
        raise
    return Attested(facts, tx.tx_hash)
