"""What the public may see of incidents, as SQL text the public queries compose (the
public map's tiles, the OGC API, the partial indexes that answer them)."""

from __future__ import annotations

from incidents.status import NOT_HAZARD, sql_list


def is_hazard(status_column: str = "i.status") -> str:
    """SQL: the report is a hazard, neither rejected nor a duplicate. The public point
    indexes (incidents.models.reports) carry the same text as their predicate, and a query
    must repeat it word for word for the planner to use them, hence text, not a parameter."""
    return f"{status_column} NOT IN {sql_list(NOT_HAZARD)}"


# The predicates of the two partial indexes the public map reads (migration 0013).
PUBLIC_OPEN_INDEX_WHERE = f"closed_at IS NULL AND {is_hazard('status')}"
PUBLIC_CLOSED_INDEX_WHERE = f"closed_at IS NOT NULL AND {is_hazard('status')}"
