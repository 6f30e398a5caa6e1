"""One router per resource: meta (health), assets, log (checkpoints and proofs), verify."""
