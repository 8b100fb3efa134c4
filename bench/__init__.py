"""Benchmarks against a real PostGIS, run by hand (never part of the test suite)."""
