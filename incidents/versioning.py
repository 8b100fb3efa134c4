"""Optimistic concurrency for reports and work orders: every UPDATE moves the row's
`version` on (one SET item that each statement composes), and a step taken against a
version the caller no longer sees is refused."""

from __future__ import annotations

from core.errors import Conflict


def next_version(alias: str | None = None) -> str:
    """The SET item `version = version + 1` (of `alias`'s row in an UPDATE ... FROM)."""
    return f"version = {alias + '.' if alias else ''}version + 1"


def require_version(seen: int | None, current: int) -> None:
    """409 when the caller saw another version of the report than the one locked now."""
    if seen is not None and seen != current:
        raise Conflict(
            f"the report changed (version {current}, you saw {seen}); reload it",
            "该上报已被他人更新，请刷新后重试",
        )
