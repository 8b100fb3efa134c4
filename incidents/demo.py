"""Demo reports for the demo city: filed over the last weeks through the real intake and
lifecycle code, so every page and inbox has something true to show."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gis.errors import GridgovError
from grid.access import load_principal
from incidents.handling import ActionRequest, take_action
from incidents.intake import IntakeContext, ReportIn, Submission, submit_report

# Fire hazards first, as residents report them; a few general issues.
CATEGORY_WEIGHTS = {
    "fire.ebike_indoor": 30, "fire.blocked_exit": 18, "fire.wiring_rental": 12,
    "fire.equipment": 10, "fire.flammable_storage": 6, "fire.blocked_lane": 8,
    "fire.gas": 4, "community.garbage": 5, "community.streetlight": 4,
    "community.road_damage": 3,
}
DESCRIPTIONS = {
    "fire.ebike_indoor": ["楼道里停了三辆电动车，晚上还在充电", "有人把电瓶拿回家充电"],
    "fire.blocked_exit": ["安全出口被杂物堵住了", "楼梯间堆满纸箱"],
    "fire.wiring_rental": ["出租屋里电线老化，插座发烫", "私拉电线给电动车充电"],
    "fire.equipment": ["灭火器过期了", "消火栓箱是空的"],
    "fire.flammable_storage": ["住户家里囤了很多液化气罐"],
    "fire.blocked_lane": ["消防通道被私家车占了"],
    "fire.gas": ["楼道里有燃气味"],
    "community.garbage": ["垃圾堆了好几天没人清"],
    "community.streetlight": ["路灯不亮了"],
    "community.road_damage": ["人行道砖块松动"],
}
# How far each demo report got: (weight, the actions after routing).
_PATHS = [
    (20, []),
    (15, ["accept"]),
    (15, ["accept", "start"]),
    (15, ["accept", "start", "resolve"]),
    (35, ["accept", "start", "resolve", "close"]),
]


@dataclass
class DemoIncidents:
    """What was made."""

    reports: int
    by_status: Counter


# Of the demo reports, this share (at least 8) lands in the cells of the demo account
# `worker`, so that signing in as it shows a work list and a map with something on them.
DEMO_WORKER_SHARE = 0.03


async def _points(session: AsyncSession, rng: random.Random, count: int) -> list:
    """Random buildings to report at, a few of them in the demo worker's cells."""
    rows = (await session.execute(text("""
        SELECT b.id, ST_X(ST_PointOnSurface(b.footprint)), ST_Y(ST_PointOnSurface(b.footprint)),
               b.cell_id IN (SELECT a.cell_id FROM cell_assignments a
                             JOIN users u ON u.id = a.user_id WHERE u.username = 'worker')
        FROM buildings b WHERE b.cell_id IS NOT NULL ORDER BY b.id
    """))).all()
    mine = [r[:3] for r in rows if r[3]]
    others = [r[:3] for r in rows if not r[3]]
    wanted_mine = min(len(mine), max(8, round(count * DEMO_WORKER_SHARE)), count)
    picked = rng.sample(mine, wanted_mine)
    picked += rng.sample(others, min(count - wanted_mine, len(others)))
    rng.shuffle(picked)
    return picked


async def _verifier(session: AsyncSession, number: str, handler_id: int) -> int | None:
    """A manager over the report's area who did not handle it."""
    return (await session.execute(text("""
        SELECT u.id FROM incidents i JOIN regions r ON r.id = i.region_id
        JOIN users u ON u.region_id = r.id
        WHERE i.tracking_number = :t AND u.role = 'community_manager' AND u.id <> :h
        ORDER BY u.id LIMIT 1
    """), {"t": number, "h": handler_id})).scalar()


async def _advance(
    sessions: async_sessionmaker[AsyncSession], ctx: IntakeContext, number: str,
    steps: list[str], when: datetime, rng: random.Random,
) -> str:
    """Take the report through its steps, each a few hours after the last."""
    status = "assigned"
    async with sessions() as session:
        assignee = (await session.execute(text(
            "SELECT assignee_id FROM incidents WHERE tracking_number = :t"), {"t": number})
        ).scalar()
        if assignee is None:
            return "submitted"
        for step in steps:
            when += timedelta(hours=rng.uniform(0.5, 20))
            actor = assignee
            if step == "close":
                actor = await _verifier(session, number, assignee)
                if actor is None:
                    break
            principal = await load_principal(session, actor)
            if principal is None:
                break
            note = "已现场处置，隐患已消除" if step == "resolve" else None
            try:
                result = await take_action(session, ctx, principal, number,
                                           ActionRequest(step, note=note), when)
            except GridgovError:
                break  # e.g. a manager assignee may not verify their own work
            await session.commit()
            status = result["status"]
    return status


async def make_demo_incidents(
    sessions: async_sessionmaker[AsyncSession], ctx: IntakeContext, *, count: int = 400,
    seed: int = 20261124, days: int = 30, progress: Callable[[str], None] | None = None,
) -> DemoIncidents:
    """File `count` reports at random buildings over the last `days` days and move each
    some way through its life, all through the real intake and lifecycle code."""
    say = progress or (lambda _m: None)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    async with sessions() as session:
        places = await _points(session, rng, count)
    categories, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    by_status: Counter = Counter()
    for i, (building_id, lon, lat) in enumerate(places, start=1):
        category = rng.choices(categories, weights)[0]
        filed = now - timedelta(days=rng.uniform(0.2, days))
        report = ReportIn(category=category, lon=lon, lat=lat, building_id=building_id,
                          description=rng.choice(DESCRIPTIONS[category]),
                          channel=rng.choice(["web", "app", "wechat", "terminal"]))
        async with sessions() as session:
            submission = await submit_report(session, ctx, report, [], None, filed)
            await session.commit()
        if not isinstance(submission, Submission):
            continue
        steps = rng.choices([p for _, p in _PATHS], [w for w, _ in _PATHS])[0]
        by_status[await _advance(sessions, ctx, submission.tracking_number, steps, filed,
                                 rng)] += 1
        if i % 100 == 0:
            say(f"  {i:,} / {len(places):,} demo reports")
    return DemoIncidents(sum(by_status.values()), by_status)
