"""Listing, licensing, fractional ownership and rewards."""
