"""Handling statistics per cell, community, street or district over a period: reports,
on-time acceptance and resolution, median times, satisfaction (好差评) and rectification.

How each figure is counted (one statement per request, grouped in the database):

- **Reports**: incidents created in the period [from, to), whole China days, whose cell
  (cell level) or region (the report's region and its ancestors, by path) belongs to the
  group. Reports rejected, marked duplicate or referred to 119 count here and in
  `set_aside`, but leave every rate and median below: nobody was meant to handle them.
- **On-time acceptance**: accepted at or before `accept_due_at` is on time; accepted
  after it is late, and so is a report not yet accepted whose deadline has passed
  (including a queued report nobody took). A report not yet accepted and not yet due is
  in neither count (its outcome is unknown); `rate = on_time / (on_time + late)`.
- **On-time resolution**: the same with `resolved_at` and `resolve_due_at`: an open
  report past its deadline is late. A reopened report is judged on its new deadline.
- **Median minutes** to accept and to resolve: from creation, over the reports that got
  there (`percentile_cont(0.5)`).
- **Ratings**: the handling ratings of those reports. Valid = not excluded; satisfaction
  = overall 4-5 among valid (a defaulted rating, 基本满意 by default, is valid and not
  satisfied; it is also counted in `defaulted`); bad = overall 1-2 among valid. Excluded
  ratings are counted apart and leave every other figure. The three figures of the
  national 好差评 rules (GB/T 39735 政务服务评价): 好评率 `satisfaction_rate` = 满意 +
  非常满意 (4-5) over all valid ratings, default ones included; 主动评价好评率
  `active_satisfaction_rate` = the same over the ratings reporters gave themselves
  (`active` = valid minus defaulted); 未评价率 `unrated_rate` = defaulted over valid.
- **Rectification**: work orders opened by those reports' valid bad ratings (a work order
  whose rating was later excluded leaves the figures); revisited at or before `due_at` is
  on time, revisited after it or still not revisited past it is late.

Deadlines are judged at `now`, so a period's figures settle as its reports finish.

Publishing (k-suppression): a group with fewer than k reports (`stats_min_group`) shows
its code and name, `suppressed: true` and no figures, not even its report count (so
"fewer than k" is all that is told, an empty group included). The ratings and
rectification of a published group are shown only when it has at least k valid ratings
(or none at all), and as many given by reporters themselves (or none): a rate over
one or two ratings would tell the handler how a known reporter rated, and with the
default 基本满意 every satisfied or bad rating is a reporter's own. Staff over the area
see everything unsuppressed.

Published figures cannot be differenced back (issue 15, item 8):
- Only fixed periods are published: a calendar month or a calendar quarter, so two
  windows one day apart cannot be subtracted. A quarter's group is hidden (whole, or its
  ratings) wherever one of its months hid it, so the quarter minus two months is no way
  round a suppressed month either.
- Complementary suppression: when exactly one child of a parent (the cells of a
  community, the communities of a street...) is hidden, the next smallest visible
  sibling is hidden too, for the whole figures (by reports) and for the ratings (by
  valid ratings) alike, so the parent minus the visible siblings never isolates one.
  Siblings are judged all together, whatever region the caller narrowed the answer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import CHINA_TZ
from core.errors import InvalidInput
from grid.models import Region
from grid.sql_fragments import cell_in_force
from incidents.status import SET_ASIDE

LEVELS = ("cell", "community", "street", "district")
# Depth of each level in the tree; a region can be broken down into levels below it.
_DEPTH = {"city": 0, "district": 1, "street": 2, "community": 3, "cell": 4}
MAX_PERIOD_DAYS = 366

# The groups of one level within the scope (a region path prefix, or everywhere), and
# the reports of the period in each. Paths hold only digits and '/', so LIKE needs no
# escaping. A report's region is its cell's community, or the deepest region covering a
# point outside every cell: its ancestors come from the path, by primary key.
_REGION_GROUPS = """
WITH grp AS (
    SELECT g.id, g.code, g.name, true AS in_force,
           (SELECT p.code FROM regions p WHERE p.id = g.parent_id) AS parent_code
    FROM regions g
    WHERE g.level = :level
      AND (CAST(:scope AS text) IS NULL OR g.path LIKE CAST(:scope AS text) || '%')
),
base AS (
    SELECT g.id AS group_id, i.id, i.status, i.created_at, i.accept_due_at, i.accepted_at,
           i.resolve_due_at, i.resolved_at
    FROM incidents i
    JOIN regions r ON r.id = i.region_id
    JOIN grp g ON g.id = ANY (CAST(string_to_array(trim(BOTH '/' FROM r.path), '/') AS int[]))
    WHERE i.created_at >= :start AND i.created_at < :end
),
"""

# Cells in force within the scope, plus retired cells that still hold reports of the
# period (closed reports stay on the cell they were handled in).
_CELL_GROUPS = f"""
WITH grp AS (
    SELECT c.id, c.code, c.name, {cell_in_force("c")} AS in_force,
           r.code AS parent_code
    FROM grid_cells c
    JOIN regions r ON r.id = c.community_id
    WHERE (CAST(:scope AS text) IS NULL OR r.path LIKE CAST(:scope AS text) || '%')
      AND ({cell_in_force("c")}
           OR c.id IN (SELECT cell_id FROM incidents
                       WHERE created_at >= :start AND created_at < :end))
),
base AS (
    SELECT i.cell_id AS group_id, i.id, i.status, i.created_at, i.accept_due_at,
           i.accepted_at, i.resolve_due_at, i.resolved_at
    FROM incidents i
    JOIN grp g ON g.id = i.cell_id
    WHERE i.created_at >= :start AND i.created_at < :end
),
"""

# The figures, each aggregated once per group (ratings and work orders apart, so joins
# do not multiply reports). Comparisons with a NULL deadline are neither on time nor late.
_FIGURES = """
counted AS (
    SELECT b.*, b.status <> ALL(:set_aside) AS counts
    FROM base b
),
handled AS (
    SELECT group_id,
        count(*) AS reports,
        count(*) FILTER (WHERE NOT counts) AS set_aside,
        count(*) FILTER (WHERE counts AND accepted_at <= accept_due_at) AS accepted_on_time,
        count(*) FILTER (WHERE counts AND (accepted_at > accept_due_at
            OR (accepted_at IS NULL AND accept_due_at < :now))) AS accepted_late,
        count(*) FILTER (WHERE counts AND resolved_at <= resolve_due_at) AS resolved_on_time,
        count(*) FILTER (WHERE counts AND (resolved_at > resolve_due_at
            OR (resolved_at IS NULL AND resolve_due_at < :now))) AS resolved_late,
        percentile_cont(0.5) WITHIN GROUP (
            ORDER BY extract(epoch FROM accepted_at - created_at) / 60)
            FILTER (WHERE counts AND accepted_at IS NOT NULL) AS accept_median_minutes,
        percentile_cont(0.5) WITHIN GROUP (
            ORDER BY extract(epoch FROM resolved_at - created_at) / 60)
            FILTER (WHERE counts AND resolved_at IS NOT NULL) AS resolve_median_minutes
    FROM counted
    GROUP BY group_id
),
rated AS (
    SELECT b.group_id,
        count(*) FILTER (WHERE NOT r.excluded) AS valid,
        count(*) FILTER (WHERE NOT r.excluded AND r.overall >= 4) AS satisfied,
        count(*) FILTER (WHERE NOT r.excluded AND r.overall <= 2) AS bad,
        count(*) FILTER (WHERE NOT r.excluded AND r.defaulted) AS defaulted,
        count(*) FILTER (WHERE NOT r.excluded AND NOT r.defaulted AND r.overall >= 4)
            AS active_satisfied,
        count(*) FILTER (WHERE r.excluded) AS excluded
    FROM base b
    JOIN ratings r ON r.incident_id = b.id AND r.kind = 'handling'
    GROUP BY b.group_id
),
rectified AS (
    SELECT b.group_id,
        count(*) AS work_orders,
        count(*) FILTER (WHERE w.revisited_at <= w.due_at) AS on_time,
        count(*) FILTER (WHERE w.revisited_at > w.due_at
            OR (w.revisited_at IS NULL AND w.due_at < :now)) AS late
    FROM base b
    JOIN work_orders w ON w.incident_id = b.id
    JOIN ratings r ON r.id = w.rating_id AND NOT r.excluded
    GROUP BY b.group_id
)
SELECT g.code, g.name, g.in_force, g.parent_code,
    coalesce(h.reports, 0) AS reports, coalesce(h.set_aside, 0) AS set_aside,
    coalesce(h.accepted_on_time, 0) AS accepted_on_time,
    coalesce(h.accepted_late, 0) AS accepted_late,
    coalesce(h.resolved_on_time, 0) AS resolved_on_time,
    coalesce(h.resolved_late, 0) AS resolved_late,
    h.accept_median_minutes, h.resolve_median_minutes,
    coalesce(rt.valid, 0) AS valid, coalesce(rt.satisfied, 0) AS satisfied,
    coalesce(rt.bad, 0) AS bad, coalesce(rt.defaulted, 0) AS defaulted,
    coalesce(rt.active_satisfied, 0) AS active_satisfied,
    coalesce(rt.excluded, 0) AS excluded,
    coalesce(w.work_orders, 0) AS work_orders, coalesce(w.on_time, 0) AS rectified_on_time,
    coalesce(w.late, 0) AS rectified_late
FROM grp g
LEFT JOIN handled h ON h.group_id = g.id
LEFT JOIN rated rt ON rt.group_id = g.id
LEFT JOIN rectified w ON w.group_id = g.id
ORDER BY g.code, g.id
"""

_STATEMENTS = {
    "cell": text(_CELL_GROUPS + _FIGURES),
    "region": text(_REGION_GROUPS + _FIGURES),
}


@dataclass(frozen=True)
class Period:
    """Whole China days [start, end)."""

    start: date
    end: date

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as moments: China midnight at each end."""
        return (
            datetime.combine(self.start, time(0), tzinfo=CHINA_TZ),
            datetime.combine(self.end, time(0), tzinfo=CHINA_TZ),
        )


def checked_period(start: date, end: date) -> Period:
    """The period [start, end), refused when empty, reversed or longer than a leap year."""
    if start > end:
        raise InvalidInput("'from' is after 'to'", "起始日期晚于截止日期", field="from")
    if start == end:
        raise InvalidInput(
            "'to' must be after 'from' (the period is [from, to))",
            "截止日期须晚于起始日期（区间不含截止日）",
            field="to",
        )
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"The period is longer than {MAX_PERIOD_DAYS} days",
            f"统计区间不能超过 {MAX_PERIOD_DAYS} 天",
            field="to",
        )
    return Period(start, end)


@dataclass(frozen=True)
class Scope:
    """Where the figures are taken: a region (code, path, level), or everywhere (None)."""

    code: str | None
    path: str | None
    level: str = "city"
    id: int | None = None


async def region_scope(
    session: AsyncSession, *, code: str | None = None, region_id: int | None = None
) -> Scope | None:
    """The region with this code (or id) as a scope; None when there is none."""
    query = select(Region.code, Region.path, Region.level, Region.id)
    query = (
        query.where(Region.code == code)
        if code is not None
        else query.where(Region.id == region_id)
    )
    row = (await session.execute(query)).first()
    return None if row is None else Scope(*row)


def check_level(level: str, scope: Scope) -> None:
    """A region breaks down into its own level or the levels below it."""
    if level not in LEVELS:
        raise InvalidInput(f"Unknown level {level}", f"未知的统计层级 {level}", field="level")
    if _DEPTH[level] < _DEPTH[scope.level]:
        raise InvalidInput(
            f"A {scope.level} has no {level} figures; choose a level at or below the region's",
            f"{scope.level} 无法按 {level} 统计",
            field="level",
        )


def _rating_sample(ratings: dict[str, Any]) -> dict[str, Any]:
    """The ratings' count for k-suppression: the valid ones, or the fewer given by reporters
    themselves when there are any (nine defaults and one given would expose that one)."""
    active = ratings["active"]
    return ratings | {"valid": min(ratings["valid"], active) if active else ratings["valid"]}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _minutes(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _figures(row: Any) -> dict[str, Any]:
    accepted = row.accepted_on_time + row.accepted_late
    resolved = row.resolved_on_time + row.resolved_late
    revisits = row.rectified_on_time + row.rectified_late
    active = row.valid - row.defaulted
    return {
        "reports": row.reports,
        "set_aside": row.set_aside,
        "acceptance": {
            "on_time": row.accepted_on_time,
            "late": row.accepted_late,
            "rate": _rate(row.accepted_on_time, accepted),
            "median_minutes": _minutes(row.accept_median_minutes),
        },
        "resolution": {
            "on_time": row.resolved_on_time,
            "late": row.resolved_late,
            "rate": _rate(row.resolved_on_time, resolved),
            "median_minutes": _minutes(row.resolve_median_minutes),
        },
        "ratings": {
            "valid": row.valid,
            "satisfied": row.satisfied,
            "satisfaction_rate": _rate(row.satisfied, row.valid),
            "bad": row.bad,
            "defaulted": row.defaulted,
            "excluded": row.excluded,
            "active": active,
            "active_satisfied": row.active_satisfied,
            "active_satisfaction_rate": _rate(row.active_satisfied, active),
            "unrated_rate": _rate(row.defaulted, row.valid),
        },
        "rectification": {
            "work_orders": row.work_orders,
            "on_time": row.rectified_on_time,
            "late": row.rectified_late,
            "rate": _rate(row.rectified_on_time, revisits),
        },
    }


async def group_statistics(
    session: AsyncSession, level: str, period: Period, scope: Scope, now: datetime
) -> list[dict[str, Any]]:
    """Every group of the level within the scope with its full figures, by code."""
    start, end = period.bounds()
    statement = _STATEMENTS["cell" if level == "cell" else "region"]
    params = {
        "scope": scope.path,
        "start": start,
        "end": end,
        "now": now,
        "set_aside": sorted(SET_ASIDE),
    }
    if level != "cell":
        params["level"] = level
    rows = (await session.execute(statement, params)).all()
    groups = []
    for row in rows:
        group = {"code": row.code, "name": row.name}
        if level == "cell":
            group["in_force"] = row.in_force
        group["parent_code"] = row.parent_code
        groups.append(group | {"suppressed": False, "ratings_suppressed": False} | _figures(row))
    return groups


def fixed_period(start: date, end: date) -> Period:
    """A calendar month or quarter given as [from, to); anything else is refused, naming
    the field, since arbitrary windows could be subtracted from each other."""
    checked_period(start, end)
    if start.day != 1:
        raise InvalidInput(
            "Published figures cover a calendar month or quarter: 'from' is its first day",
            "公开统计仅按自然月或季度发布：起始日期须为当月或当季第一天",
            field="from",
        )
    quarter = (start.month - 1) % 3 == 0 and end == _add_months(start, 3)
    if end != _add_months(start, 1) and not quarter:
        raise InvalidInput(
            "Published figures cover a calendar month or quarter: 'to' is the first day "
            "after it (e.g. from=2026-10-01 with to=2026-11-01 or to=2027-01-01)",
            "公开统计仅按自然月或季度发布：截止日期须为下月或下季第一天",
            field="to",
        )
    return Period(start, end)


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def months_of(period: Period) -> list[Period]:
    """The calendar months of a fixed period (itself, for a month)."""
    months, start = [], period.start
    while start < period.end:
        months.append(Period(start, _add_months(start, 1)))
        start = _add_months(start, 1)
    return months


_HIDDEN = {
    "reports": None,
    "set_aside": None,
    "acceptance": None,
    "resolution": None,
    "ratings": None,
    "rectification": None,
}


def _hide(group: dict[str, Any]) -> dict[str, Any]:
    identity = {
        key: group[key] for key in ("code", "name", "in_force", "parent_code") if key in group
    }
    return identity | {"suppressed": True, "ratings_suppressed": True} | _HIDDEN


def _hide_ratings(group: dict[str, Any]) -> dict[str, Any]:
    return group | {"ratings_suppressed": True, "ratings": None, "rectification": None}


def _complement(
    shown: list[dict[str, Any]], full: dict[str, dict[str, Any]], hidden: str, size: Any, hide: Any
) -> list[dict[str, Any]]:
    """Where exactly one sibling is hidden (flag `hidden`), hide the visible sibling with
    the smallest `size` (judged on the full figures) too."""
    by_parent: dict[Any, list[int]] = {}
    for index, group in enumerate(shown):
        by_parent.setdefault(group.get("parent_code"), []).append(index)
    for members in by_parent.values():
        if sum(shown[i][hidden] for i in members) != 1:
            continue
        visible = [i for i in members if not shown[i][hidden]]
        if visible:
            pick = min(visible, key=lambda i: (size(full[shown[i]["code"]]), shown[i]["code"]))
            shown[pick] = hide(shown[pick])
    return shown


def published(
    groups: list[dict[str, Any]], k: int, months: list[list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """The groups as the public may see them: fewer than k reports -> no figures at all;
    fewer than k valid ratings (but some ratings) -> no rating or rectification figures;
    a group hidden (or its ratings) in any of `months` (the published months of a
    quarter) is hidden likewise; then complementary suppression among siblings. The
    `parent_code` each group carries is for this and is not shown."""
    full = {group["code"]: group for group in groups}
    hidden_in_a_month = {g["code"] for month in months or () for g in month if g["suppressed"]}
    ratings_hidden_in_a_month = {
        g["code"] for month in months or () for g in month if g["ratings_suppressed"]
    }
    shown = []
    for group in groups:
        if group["reports"] < k or group["code"] in hidden_in_a_month:
            shown.append(_hide(group))
            continue
        ratings = _rating_sample(group["ratings"])
        if (
            0 < ratings["valid"] < k
            or (ratings["valid"] == 0 and ratings["excluded"])
            or group["code"] in ratings_hidden_in_a_month
        ):
            group = _hide_ratings(group)
        shown.append(group)
    shown = _complement(shown, full, "suppressed", lambda g: g["reports"], _hide)
    shown = _complement(
        shown, full, "ratings_suppressed", lambda g: g["ratings"]["valid"], _hide_ratings
    )
    return shown


def without_parents(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups as answered: without the parent code used for suppression."""
    return [{key: value for key, value in g.items() if key != "parent_code"} for g in groups]
