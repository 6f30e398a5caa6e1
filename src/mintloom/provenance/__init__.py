"""Hashing, CIDs, C2PA Content Credentials, keys, the RFC 9162 Merkle log and receipts."""
