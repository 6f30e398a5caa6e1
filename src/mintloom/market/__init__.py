"""Licence purchases: ERC-1155 licence tokens bought under an asset's attached terms."""
