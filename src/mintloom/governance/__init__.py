"""License terms, license gating and royalty splits."""
