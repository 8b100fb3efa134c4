"""Intake returns the ids of the rows its one statement wrote (incident, first events,
notification), so callers add to the report by id, never by currval or a lookup."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

from api.app import intake_context
from grid.access import load_principal
from incidents.intake.filing import submit_report
from incidents.intake.schemas import ReportIn, Submission
from tests.factories import assign, make_user, make_world, metres_point

STORAGE = "fire.flammable_storage"


async def _file(db, settings, filer=None) -> Submission:
    lon, lat = metres_point(250, 250)
    report = ReportIn(category=STORAGE, lon=lon, lat=lat, description="楼道堆放液化气罐")
    filed = await submit_report(db, intake_context(settings), report, [], filer, datetime.now(UTC))
    assert isinstance(filed, Submission)
    return filed


async def _written(db, tracking_number: str) -> tuple[int, list[tuple[int, str]], list[int]]:
    incident_id = (
        await db.execute(
            text("SELECT id FROM incidents WHERE tracking_number = :t"), {"t": tracking_number}
        )
    ).scalar_one()
    events = (
        await db.execute(
            text("SELECT id, kind FROM incident_events WHERE incident_id = :i ORDER BY id"),
            {"i": incident_id},
        )
    ).all()
    outbox = (
        await db.execute(text("SELECT id FROM outbox WHERE incident_id = :i"), {"i": incident_id})
    ).scalars()
    return incident_id, [tuple(e) for e in events], list(outbox)


async def test_a_routed_report_returns_its_incident_both_events_and_its_notification(db, settings):
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    filed = await _file(db, settings)
    incident_id, events, outbox = await _written(db, filed.tracking_number)
    assert filed.status == "assigned"
    assert filed.rows.incident_id == incident_id
    assert [kind for _, kind in events] == ["created", "assignment"]
    assert filed.rows.event_ids == tuple(event_id for event_id, _ in events)
    assert [filed.rows.outbox_id] == outbox


async def test_a_queued_report_returns_its_one_event_and_the_queue_notification(db, settings):
    world = await make_world(db)
    admin = await make_user(db, "root", "admin", None, "管理员")
    filed = await _file(db, settings, await load_principal(db, admin.id))
    incident_id, events, outbox = await _written(db, filed.tracking_number)
    assert world is not None and filed.status == "submitted"
    assert filed.rows.incident_id == incident_id
    assert filed.rows.event_ids == (events[0][0],) and events[0][1] == "created"
    assert [filed.rows.outbox_id] == outbox


async def test_the_ids_are_never_part_of_the_reporters_answer(db, settings):
    await make_world(db)
    filed = await _file(db, settings)
    answer = filed.answer()
    assert "rows" not in answer
    assert list(answer) == [
        "tracking_number",
        "secret",
        "status",
        "category",
        "cell_code",
        "routing_rule",
        "accept_due_at",
        "resolve_due_at",
        "likely_duplicates",
    ]
