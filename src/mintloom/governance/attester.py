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

from dataclasses import dataclass

from web3.contract import Contract

from mintloom.errors import (
    AlreadyAttestedError,
    ChildCredentialError,
    ContractError,
    NoCreatorNamedError,
    NotAttesterError,
    ParentCredentialError,
    ParentNotInFamilyError,
    ParentNotIngredientError,
)
from mintloom.governance.remix import image_media_type
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


def _child_credential(child: bytes, trust_anchors_pem: str) -> CredentialReport:
    """The child's credential: present, intact, its signer certified by the trust anchor."""
    media_type = image_media_type(child, "child", ChildCredentialError)
    cred = read_credentials(child, media_type, trust_anchors_pem=trust_anchors_pem)
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


def _parent_credential(parent: bytes, trust_anchors_pem: str) -> CredentialReport:
    """The parent's own credential: intact (its pixels are the ones it hashes) and trusted. A
    genuine manifest pasted onto other pixels keeps its label but not its hash binding."""
    media_type = image_media_type(parent, "parent", ParentCredentialError)
    own = read_credentials(parent, media_type, trust_anchors_pem=trust_anchors_pem)
    if not own.present or own.error is not None or own.label is None:
        raise ParentCredentialError(f"the parent carries no readable Content Credential ({own.error})")
    failed = [f for f in own.failures if not f.startswith("signingCredential.untrusted")]
    if failed or not own.signature_valid or not own.hash_binding_valid or own.tampered:
        why = ", ".join(failed) or "invalid signature or hash binding"
        raise ParentCredentialError(f"the parent's Content Credential does not validate: {why}")
    if not own.trusted:
        raise ParentCredentialError(
            f"the parent's signer ({own.signer}) does not chain to the attester's trust anchors",
            hint="the parent is the family's own asset: pass the file the brand published",
        )
    return own


def _names_parent(cred: CredentialReport, parent: bytes, trust_anchors_pem: str) -> None:
    """The child's ``parentOf`` ingredient is ``parent``'s own signed, intact, trusted manifest."""
    own = _parent_credential(parent, trust_anchors_pem)
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


def check_child(
    child: bytes, parent: bytes, trust_anchors_pem: str, parent_anchors_pem: str | None = None
) -> ChildFacts:
    """Every off-chain check the attester makes (no chain read); refusals by name. The parent's
    signer must chain to ``parent_anchors_pem`` (the attester's roots; default: the same anchors)."""
    cred = _child_credential(child, trust_anchors_pem)
    _names_parent(cred, parent, parent_anchors_pem or trust_anchors_pem)
    creator = cred.generation.creator_account if cred.generation is not None else None
    if creator is None:
        raise NoCreatorNamedError(
            "the child's credential names no creator account",
            hint="remix with `mintloom remix` (it names this workspace's chain account as creator)",
        )
    distance = check_remix(parent, child)
    return ChildFacts(str(cid_for(child)), str(cid_for(parent)), creator, cred.signer, distance)


def _in_pool_family(chain: ChainClient, pool: Contract, parent: str) -> None:
    """The parent is a registered asset of the pool's family (attestations are final: a parent
    outside it would bind the child to a parent the fan's own submission cannot use)."""
    family = chain.w3.to_checksum_address(str(pool.functions.contracts().call()[2]))
    config = chain.w3.eth.contract(address=family, abi=chain.artifact("FamilyConfig").abi)
    if not bool(config.functions.inFamily(token_id(parent)).call()):
        raise ParentNotInFamilyError(
            f"the parent {parent} is no registered asset of the family of the pool {pool.address}",
            hint="pass the family asset the child was remixed from as --parent",
        )


def attest_child(
    chain: ChainClient,
    rewards: str,
    child: bytes,
    parent: bytes,
    trust_anchors_pem: str,
    *,
    parent_anchors_pem: str | None = None,
) -> Attested:
    """Check ``child`` and attest it, for the creator its credential names, at the family pool
    ``rewards``; the sender must be that pool's attester."""
    facts = check_child(child, parent, trust_anchors_pem, parent_anchors_pem)
    pool = pool_contract(chain, rewards)
    _in_pool_family(chain, pool, facts.parent)
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
