"""The review trigger: changed text goes back to review, except in the statement that
marks a report anonymised (retention's redaction), which keeps the review as it was."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import make_user, make_world, metres_point


async def _published_report(client, db) -> tuple[int, int]:
    """A report whose text staff approved and published; (incident id, reviewer id)."""
    world = await make_world(db)
    reviewer = await make_user(db, "review-m", "community_manager", world.community_a)
    lon, lat = metres_point(250, 250)
    response = await client.post(
        "/reports",
        json={"category": "fire.blocked_exit", "lon": lon, "lat": lat, "description": "楼道堵了"},
    )
    assert response.status_code == 201, response.text
    incident_id = (
        await db.execute(
            text(
                "UPDATE incidents SET text_review = 'approved', published_description = '楼道堵了', "
                "text_reviewed_by_id = :r, text_reviewed_at = now() "
                "WHERE tracking_number = :n RETURNING id"
            ),
            {"r": reviewer.id, "n": response.json()["tracking_number"]},
        )
    ).scalar_one()
    return incident_id, reviewer.id


async def _review(db, incident_id: int) -> tuple:
    return (
        await db.execute(
            text(
                "SELECT text_review, published_description, text_reviewed_by_id FROM incidents "
                "WHERE id = :i"
            ),
            {"i": incident_id},
        )
    ).one()


async def test_anonymising_statement_keeps_review_and_cannot_approve_on_its_own(client, db):
    incident_id, reviewer_id = await _published_report(client, db)
    await db.execute(
        text(
            "UPDATE incidents SET description = '楼道堵了 [已删除]', anonymised_at = now(), "
            "published_description = 'changed', text_review = 'rejected' WHERE id = :i"
        ),
        {"i": incident_id},
    )
    assert await _review(db, incident_id) == ("approved", "楼道堵了", reviewer_id)


async def test_changed_text_is_reviewed_again_outside_the_anonymising_statement(client, db):
    incident_id, _ = await _published_report(client, db)
    await db.execute(
        text("UPDATE incidents SET anonymised_at = now() WHERE id = :i"), {"i": incident_id}
    )
    # Already anonymised: a later change of text is an ordinary one.
    await db.execute(
        text(
            "UPDATE incidents SET description = '楼道又堵了', anonymised_at = now() WHERE id = :i"
        ),
        {"i": incident_id},
    )
    assert await _review(db, incident_id) == ("pending", None, None)
