"""Demo reports go through the real intake and lifecycle: routed, moved along, verified
by someone other than the handler."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.app import intake_context
from demo.reports import make_demo_incidents
from tests.factories import assign, make_building, make_user, make_world


async def test_demo_reports_are_filed_and_handled_through_the_real_code(db, settings):
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a)
    await make_user(db, "cm-a", "community_manager", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    for i in range(30):
        x = 20 + (i % 10) * 45
        await make_building(
            db,
            world.cell_a1,
            (x, 20 + (i // 10) * 100, x + 20, 40 + (i // 10) * 100),
            address=f"测试路{i}号",
        )
    sessions = async_sessionmaker(
        bind=await db.connection(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    made = await make_demo_incidents(sessions, intake_context(settings), count=25, seed=7)
    assert made.reports == 25
    assert made.by_status["closed"] > 0 and made.by_status["assigned"] > 0
    rows = (
        await db.execute(
            text("""
        SELECT i.status, i.handler_id, e.actor_id AS closer
        FROM incidents i LEFT JOIN incident_events e ON e.incident_id = i.id
                                                     AND e.to_status = 'closed'
    """)
        )
    ).all()
    assert len(rows) == 25
    assert all(closer != handler for status, handler, closer in rows if status == "closed")
    assert all(status != "submitted" for status, _h, _c in rows)  # all in a worked cell
