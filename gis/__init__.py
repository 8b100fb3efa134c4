"""Spatial foundation: settings, database access, CRS policy, geometry helpers."""
