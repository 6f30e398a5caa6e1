"""Verification of files: origin, license, history and chain proof."""
