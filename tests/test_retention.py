"""Retention: personal data of reports finished before the period is removed or
redacted, the rest is left alone, and the command says what it changed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from incidents.retention import anonymise_finished_reports
from tests.factories import assign, make_user, make_world, metres_point

REPO = Path(__file__).resolve().parents[1]
PHONE = "13912345678"
NOW = datetime.now(UTC)


async def _file(client, description: str) -> int:
    lon, lat = metres_point(250, 250)
    response = await client.post(
        "/reports",
        json={
            "category": "fire.blocked_exit",
            "lon": lon,
            "lat": lat,
            "description": description,
            "contact_name": "王五",
            "contact_phone": PHONE,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _finish(db, number: str, status: str, days_ago: int) -> int:
    return (
        await db.execute(
            text(
                "UPDATE incidents SET status = :s, closed_at = :at, updated_at = :at "
                "WHERE tracking_number = :n RETURNING id"
            ),
            {"s": status, "at": NOW - timedelta(days=days_ago), "n": number},
        )
    ).scalar_one()


async def _row(db, incident_id: int) -> dict:
    return dict(
        (
            await db.execute(
                text(
                    "SELECT reporter_name, reporter_phone, description, anonymised_at FROM incidents "
                    "WHERE id = :id"
                ),
                {"id": incident_id},
            )
        )
        .one()
        ._mapping
    )


async def _run(db, dry_run: bool = False):
    return await db.run_sync(
        lambda s: anonymise_finished_reports(
            s.connection(), NOW, timedelta(days=365), dry_run=dry_run
        )
    )


async def test_old_finished_reports_lose_contact_and_numbers_the_rest_is_kept(client, db):
    world = await make_world(db)
    worker = await make_user(db, "ret-w", "grid_worker", world.community_a)
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    old = await _finish(db, await _file(client, f"楼道堵了，联系我 {PHONE}"), "closed", 400)
    await db.execute(
        text(
            "INSERT INTO incident_events (incident_id, kind, actor_role, note) "
            "VALUES (:i, 'note', 'grid_worker', :n)"
        ),
        {"i": old, "n": f"已电话 {PHONE} 回访"},
    )
    recent = await _finish(db, await _file(client, f"电话 {PHONE}"), "closed", 30)
    still_open = (
        await db.execute(
            text("UPDATE incidents SET created_at = :at WHERE tracking_number = :n RETURNING id"),
            {"at": NOW - timedelta(days=500), "n": await _file(client, f"电话 {PHONE}")},
        )
    ).scalar_one()

    # A text already published keeps its publication state once redacted.
    await db.execute(
        text(
            "UPDATE incidents SET text_review = 'approved', published_description = '楼道堵了', "
            "text_reviewed_by_id = :w, text_reviewed_at = now() WHERE id = :i"
        ),
        {"i": old, "w": worker.id},
    )

    dry = await _run(db, dry_run=True)
    assert dry.incidents == 1 and dry.changed["reporter contact and account"] == 1
    assert (await _row(db, old))["reporter_phone"] == PHONE  # a dry run changes nothing

    done = await _run(db)
    assert done.incidents == 1
    assert done.changed["report descriptions redacted"] == 1
    assert done.changed["timeline notes redacted"] == 1
    row = await _row(db, old)
    assert (row["reporter_name"], row["reporter_phone"]) == (None, None)
    assert PHONE not in row["description"] and "楼道堵了" in row["description"]
    assert row["anonymised_at"] is not None
    assert (
        await db.execute(
            text(
                "SELECT text_review, published_description, text_reviewed_by_id, "
                "text_reviewed_at IS NOT NULL FROM incidents WHERE id = :i"
            ),
            {"i": old},
        )
    ).one() == ("approved", "楼道堵了", worker.id, True)
    notes = (
        (
            await db.execute(
                text(
                    "SELECT note FROM incident_events WHERE incident_id = :i AND note IS NOT NULL"
                ),
                {"i": old},
            )
        )
        .scalars()
        .all()
    )
    assert notes and all(PHONE not in n for n in notes)
    for kept in (recent, still_open):
        assert (await _row(db, kept))["reporter_phone"] == PHONE

    again = await _run(db)
    assert again.incidents == 0  # each report once
    audit = (
        await db.execute(
            text("SELECT detail FROM audit_log WHERE action = 'retention' ORDER BY id DESC LIMIT 1")
        )
    ).scalar_one()
    assert audit["incidents"] == 0


def test_the_command_reports_what_it_would_change(migrated_db, settings):
    env = os.environ | {
        "GRIDGOV_DATABASE_URL": settings.database_url,
        "GRIDGOV_ENVIRONMENT": "test",
        "GRIDGOV_SECRET_KEY": settings.secret_key.get_secret_value(),
        "GRIDGOV_ID_HASH_KEY": settings.id_hash_key.get_secret_value(),
    }
    run = subprocess.run(
        [sys.executable, "-m", "cli.main", "retention", "run", "--dry-run", "--days", "400"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "would anonymise" in run.stdout and "report(s) finished before" in run.stdout
