"""Catalog schema migrations (Alembic scripts, loaded by path: see mintloom.store.migrate)."""
