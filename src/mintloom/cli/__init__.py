"""The `mintloom` command line (Typer + Rich)."""
