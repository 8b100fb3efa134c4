"""Demo reports for the demo city: filed over the last weeks through the real intake and
lifecycle code, so every page and inbox has something true to show."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.errors import GridgovError
from demo.seed import DEFAULT_SEED
from grid.access import Principal, load_principal
from grid.roles import Role
from grid.sql_fragments import assignment_in_force
from incidents.handling.actions import ActionRequest, take_action
from incidents.handling.extensions import request_extension
from incidents.intake.filing import IntakeContext, ReportIn, Submission, submit_report
from incidents.ratings.flags_and_appeals import flag_rating
from incidents.ratings.giving import rate
from incidents.ratings.scores import RatingIn

# Fire hazards first, as residents report them; a few general issues.
CATEGORY_WEIGHTS = {
    "fire.ebike_indoor": 30,
    "fire.blocked_exit": 18,
    "fire.wiring_rental": 12,
    "fire.equipment": 10,
    "fire.flammable_storage": 6,
    "fire.blocked_lane": 8,
    "fire.gas": 4,
    "community.garbage": 5,
    "community.streetlight": 4,
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
    """What was made: the random reports by status, and the staff work (scenario ->
    tracking number) made for the demo accounts."""

    reports: int
    by_status: Counter
    staff_work: dict[str, str] = field(default_factory=dict)


# Of the demo reports, this share (at least 8) lands in the cells of the demo account
# `worker`, so that signing in as it shows a work list and a map with something on them.
DEMO_WORKER_SHARE = 0.03


async def _points(session: AsyncSession, rng: random.Random, count: int) -> list:
    """Random buildings to report at, a few of them in the demo worker's cells."""
    rows = (
        await session.execute(
            text("""
        SELECT b.id, ST_X(ST_PointOnSurface(b.footprint)), ST_Y(ST_PointOnSurface(b.footprint)),
               b.cell_id IN (SELECT a.cell_id FROM cell_assignments a
                             JOIN users u ON u.id = a.user_id WHERE u.username = 'worker')
        FROM buildings b WHERE b.cell_id IS NOT NULL ORDER BY b.id
    """)
        )
    ).all()
    mine = [r[:3] for r in rows if r[3]]
    others = [r[:3] for r in rows if not r[3]]
    wanted_mine = min(len(mine), max(8, round(count * DEMO_WORKER_SHARE)), count)
    picked = rng.sample(mine, wanted_mine)
    picked += rng.sample(others, min(count - wanted_mine, len(others)))
    rng.shuffle(picked)
    return picked


async def _verifier(session: AsyncSession, number: str, handler_id: int) -> int | None:
    """A manager over the report's area who did not handle it."""
    return (
        await session.execute(
            text("""
        SELECT u.id FROM incidents i JOIN regions r ON r.id = i.region_id
        JOIN users u ON u.region_id = r.id
        WHERE i.tracking_number = :t AND u.role = :role AND u.id <> :h
        ORDER BY u.id LIMIT 1
    """),
            {"t": number, "h": handler_id, "role": Role.COMMUNITY_MANAGER.value},
        )
    ).scalar()


async def _advance(
    sessions: async_sessionmaker[AsyncSession],
    ctx: IntakeContext,
    number: str,
    steps: list[str],
    when: datetime,
    rng: random.Random,
) -> str:
    """Take the report through its steps, each a few hours after the last."""
    status = "assigned"
    async with sessions() as session:
        assignee = (
            await session.execute(
                text("SELECT assignee_id FROM incidents WHERE tracking_number = :t"), {"t": number}
            )
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
                result = await take_action(
                    session, ctx, principal, number, ActionRequest(step, note=note), when
                )
            except GridgovError:
                break  # e.g. a manager assignee may not verify their own work
            await session.commit()
            status = result["status"]
    return status


async def make_demo_incidents(
    sessions: async_sessionmaker[AsyncSession],
    ctx: IntakeContext,
    *,
    count: int = 400,
    seed: int = DEFAULT_SEED,
    days: int = 30,
    progress: Callable[[str], None] | None = None,
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
        report = ReportIn(
            category=category,
            lon=lon,
            lat=lat,
            building_id=building_id,
            description=rng.choice(DESCRIPTIONS[category]),
            channel=rng.choice(["web", "app", "wechat", "terminal"]),
        )
        async with sessions() as session:
            submission = await submit_report(session, ctx, report, [], None, filed)
            await session.commit()
        if not isinstance(submission, Submission):
            continue
        steps = rng.choices([p for _, p in _PATHS], [w for w, _ in _PATHS])[0]
        by_status[await _advance(sessions, ctx, submission.tracking_number, steps, filed, rng)] += 1
        if i % 100 == 0:
            say(f"  {i:,} / {len(places):,} demo reports")
    say("work for the demo accounts (worker, community)")
    staff_work = await make_staff_work(sessions, ctx, now)
    return DemoIncidents(sum(by_status.values()), by_status, staff_work)


# --- work for the demo staff accounts -----------------------------------------------------
#
# Random paths leave the demo accounts' lists to chance (and never close a report that
# could then be rated). These scenarios give `worker` a to-do in every state and
# `community` something in every manager queue, each made through the same functions the
# API calls, at fixed offsets before `now`: (name, category, hours before now it was
# filed, steps). A step is (hours after filing, who, what, note).
DEMO_WORKER, DEMO_MANAGER, DEMO_SECOND_MANAGER = "worker", "community", "street"
_Step = tuple[float, str, str, str | None]
STAFF_SCENARIOS: list[tuple[str, str, float, list[_Step]]] = [
    ("assigned", "fire.blocked_exit", 1.5, []),
    ("accepted", "fire.equipment", 5, [(1, "worker", "accept", None)]),
    (
        "in_progress",
        "fire.wiring_rental",
        8,
        [(0.5, "worker", "accept", None), (2, "worker", "start", None)],
    ),
    # Filed ten days ago and still being handled: past every tier's deadline.
    (
        "overdue",
        "fire.ebike_indoor",
        240,
        [(1, "worker", "accept", None), (3, "worker", "start", None)],
    ),
    (
        "reopened",
        "fire.blocked_lane",
        96,
        [
            (1, "worker", "accept", None),
            (2, "worker", "start", None),
            (20, "worker", "resolve", "已劝离占道车辆"),
            (30, "community", "close", None),
            (72, "community", "reopen", "住户反映消防通道又被占用"),
        ],
    ),
    (
        "resolved",
        "fire.flammable_storage",
        50,
        [
            (1, "worker", "accept", None),
            (2, "worker", "start", None),
            (46, "worker", "resolve", "已督促住户清走液化气罐，楼道已清空"),
        ],
    ),
    (
        "resolved_2",
        "community.garbage",
        30,
        [(2, "worker", "accept", None), (4, "worker", "resolve", "已通知保洁清运")],
    ),
    (
        "extension",
        "community.road_damage",
        6,
        [
            (1, "worker", "accept", None),
            (2, "worker", "start", None),
            (3, "worker", "extend", "需等市政部门更换人行道砖，预计三天后施工"),
        ],
    ),
    (
        "transferred",
        "community.streetlight",
        26,
        [(2, "worker", "transfer", "路灯属于相邻小区物业管理，不在本网格")],
    ),
    # Handled and verified, then rated 1 by the reporter: a rectification work order
    # goes up the handler's chain (to `community`).
    (
        "bad_rating",
        "fire.gas",
        100,
        [
            (1, "worker", "accept", None),
            (2, "worker", "start", None),
            (24, "worker", "resolve", "已联系燃气公司检修阀门"),
            (36, "community", "close", None),
            (60, "reporter", "rate:1", "还是有燃气味，没人再来看"),
        ],
    ),
    # Rated 1 with a comment the street manager judges false: flagged, waiting for a
    # second manager (`community`) to confirm or dismiss.
    (
        "flagged_rating",
        "fire.ebike_indoor",
        120,
        [
            (1, "worker", "accept", None),
            (2, "worker", "start", None),
            (20, "worker", "resolve", "已将楼道电动车移至集中充电棚"),
            (30, "community", "close", None),
            (50, "reporter", "rate:1", "网格员什么都没做"),
            (60, "street", "flag", "现场照片与回访记录显示已整改，评价与事实不符"),
        ],
    ),
]


async def _demo_staff(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        text("SELECT username, id FROM users WHERE username = ANY(:u) AND is_active"),
        {"u": [DEMO_WORKER, DEMO_MANAGER, DEMO_SECOND_MANAGER]},
    )
    return {username: user_id for username, user_id in rows}


async def _worker_buildings(session: AsyncSession, on: date) -> list:
    """Buildings of the cells the demo worker is primary for on `on`, in id order
    (deterministic)."""
    return (
        await session.execute(
            text(f"""
        SELECT b.id, ST_X(ST_PointOnSurface(b.footprint)), ST_Y(ST_PointOnSurface(b.footprint))
        FROM buildings b JOIN cell_assignments a ON a.cell_id = b.cell_id
        JOIN users u ON u.id = a.user_id
        WHERE u.username = :w AND a.kind = 'primary' AND {assignment_in_force("a", ":on")}
        ORDER BY b.id
    """),
            {"w": DEMO_WORKER, "on": on},
        )
    ).all()


async def _step(
    session: AsyncSession,
    ctx: IntakeContext,
    who: Principal | None,
    what: str,
    note: str | None,
    number: str,
    secret: str,
    when: datetime,
) -> None:
    """One step of a scenario through the domain function the API would call."""
    if what == "extend":
        due = (
            await session.execute(
                text("SELECT resolve_due_at FROM incidents WHERE tracking_number = :t"),
                {"t": number},
            )
        ).scalar_one()
        await request_extension(
            session, who, number, max(due, when) + timedelta(days=3), note or "", when
        )
    elif what.startswith("rate:"):
        await rate(
            session, ctx, number, RatingIn(overall=int(what[5:]), comment=note), None, secret, when
        )
    elif what == "flag":
        rating_id = (
            await session.execute(
                text("""
            SELECT g.id FROM ratings g JOIN incidents i ON i.id = g.incident_id
            WHERE i.tracking_number = :t AND g.kind = 'handling'
        """),
                {"t": number},
            )
        ).scalar_one()
        await flag_rating(session, who, rating_id, note, when)
    else:
        await take_action(session, ctx, who, number, ActionRequest(what, note=note), when)


async def make_staff_work(
    sessions: async_sessionmaker[AsyncSession], ctx: IntakeContext, now: datetime
) -> dict[str, str]:
    """File STAFF_SCENARIOS in the demo worker's cells and take each through its steps;
    scenario -> tracking number. Nothing when the demo accounts are not there (a test
    city)."""
    async with sessions() as session:
        staff = await _demo_staff(session)
        buildings = await _worker_buildings(session, now.date())
        if len(staff) < 3 or not buildings:
            return {}
        people = {name: await load_principal(session, user_id) for name, user_id in staff.items()}
    made: dict[str, str] = {}
    for k, (name, category, hours_ago, steps) in enumerate(STAFF_SCENARIOS):
        building_id, lon, lat = buildings[(k * 7) % len(buildings)]
        filed = now - timedelta(hours=hours_ago)
        report = ReportIn(
            category=category,
            lon=lon,
            lat=lat,
            building_id=building_id,
            description=DESCRIPTIONS.get(category, ["楼道有安全隐患"])[0],
            channel="app",
        )
        async with sessions() as session:
            submission = await submit_report(session, ctx, report, [], None, filed)
            await session.commit()
        if not isinstance(submission, Submission):  # an emergency category: not one here
            continue
        number, secret = submission.tracking_number, submission.secret
        for after_h, who, what, note in steps:
            # One unit of work per step: a use case that commits itself joins it.
            async with sessions() as session, unit_of_work(session):
                await _step(
                    session,
                    ctx,
                    people.get(who),
                    what,
                    note,
                    number,
                    secret,
                    filed + timedelta(hours=after_h),
                )
        made[name] = number
    return made
