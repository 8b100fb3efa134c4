"""Presentation: data in, map out (vector tiles, map pages); no business rules."""
