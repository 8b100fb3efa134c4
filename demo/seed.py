"""The demo's default random seed (same seed, same city), in a module light enough for the
CLI's options and the benches to import without building anything."""

from __future__ import annotations

DEFAULT_SEED = 20261124
