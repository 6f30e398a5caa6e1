"""Generators behind one small Protocol."""
