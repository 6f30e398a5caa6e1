"""Typed identifiers shared across subsystems."""

from __future__ import annotations

from typing import NewType

CID = NewType("CID", str)
"""IPFS-compatible CIDv1 (base32, ``b...``), sha2-256 multihash."""

JobId = NewType("JobId", str)
"""Stable content key of a planned job (hex sha-256 of its canonical description)."""

Address = NewType("Address", str)
"""EIP-55 checksummed Ethereum address."""
TxHash = NewType("TxHash", str)
