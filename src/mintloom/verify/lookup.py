"""What verification reads from a chain, as a Protocol the caller passes in.

``verify`` sits above the ledger and governance packages but imports neither: whoever builds a
:class:`~mintloom.verify.verifier.VerifyContext` hands it a :class:`ChainLookup` (a workspace's
chain, any JSON-RPC endpoint, or a test double), or None to verify offline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from mintloom.verify.report import LicenseInfo


class ChainLookup(Protocol):
    """Read-only answers about anchors and licences. Methods raise a
    :class:`~mintloom.errors.MintloomError` when the chain cannot be read."""

    @property
    def chain_id(self) -> int: ...

    @property
    def pins_log(self) -> bool:
        """The ProvenanceLog address comes from the lookup's own records (a deployments file),
        not from the receipt under test."""
        ...

    def anchored_root(self, size: int, log_address: str | None) -> str | None:
        """Hex root the chain anchors for the checkpoint of ``size``, None if it anchors none.
        ``log_address``: the ProvenanceLog the receipt names, used only when :attr:`pins_log` is
        false."""
        ...

    def anchored_at(
        self, size: int, log_address: str | None, block_hint: int | None = None
    ) -> dt.datetime | None:
        """Time of the block that first anchored checkpoint ``size``, None if no such block.
        ``block_hint``: the block the receipt says anchored it, asked first (a lie costs one
        request: the chain's own event decides)."""
        ...

    def licenses(
        self, assets: Sequence[tuple[int, str]], *, detail: bool = False
    ) -> list[LicenseInfo | None]:
        """For each asset (leaf index, CID): terms, registration (owner) and on-chain lineage, as
        far as those contracts are deployed; None where they cannot be read. Asked once per batch
        of files (``verify DIR``), so an implementation can answer them in a few requests.
        ``detail`` (one file verified on its own): its marketplace sales and UGC reward too, which
        take event scans a folder's batches leave out."""
        ...
