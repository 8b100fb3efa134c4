"""Faults while the service runs: every database connection of the server is cut (what a
database restart does to its clients). The request caught in the cut gets a clean 503,
the next one succeeds, and no report is half-written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.factories import metres_point

pytestmark = pytest.mark.asyncio(loop_scope="session")

MARK = "fault-test: connection cut"


def _cut_server_connections(sync_engine) -> int:
    """Terminate every other backend of the test database (the server's pool among
    them), as a restart would; returns how many were cut."""
    with sync_engine.connect() as conn:
        cut = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'")).scalar_one()
    return cut


async def test_after_the_databases_connections_are_cut_the_next_report_is_stored_whole(
    server, open_incident, sync_engine, async_engine
):
    lon, lat = metres_point(260, 260)
    report = {"category": "fire.blocked_exit", "lon": lon, "lat": lat, "description": MARK}
    answers = []
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        answers.append((await client.post("/reports", json=report)).status_code)
        assert _cut_server_connections(sync_engine) >= 1
        # The session fixtures' pools lost their connections too: start them afresh.
        await async_engine.dispose()
        sync_engine.dispose()
        answers.append((await client.post("/reports", json=report)).status_code)
        answers.append((await client.post("/reports", json=report)).status_code)
        health = await client.get("/health")

    # Caught in the cut: a 503 the client may retry, never a 500; then service as usual.
    assert answers[0] == 201 and answers[1] in (201, 503) and answers[2] == 201
    assert health.status_code == 200
    with sync_engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT i.id, i.status, i.assignee_id, "
            "(SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id), "
            "(SELECT count(*) FROM outbox o WHERE o.incident_id = i.id) "
            "FROM incidents i WHERE i.description = :mark"), {"mark": MARK}).all()
    # One stored report per 201, each whole: routed, with its events and outbox message.
    assert len(stored) == answers.count(201)
    for _id, status, assignee, events, messages in stored:
        assert status == "assigned" and assignee is not None
        assert events >= 1 and messages >= 1
