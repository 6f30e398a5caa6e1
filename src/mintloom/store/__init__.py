"""Catalog database (SQLAlchemy 2) and content-addressed blob store."""
