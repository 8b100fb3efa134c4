"""好差评: rating a closed report once (account, secret, staff for a caller), the default
rating after the period, the rectification work order of a bad rating (up the chain, due in
working days), its revisit and re-rating, its escalation, and flags and appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from api.app import intake_context
from incidents.handling.escalation import escalate
from incidents.handling.workdays import CHINA_TZ, WorkCalendar
from incidents.ratings.defaults import default_ratings
from incidents.ratings.giving import rate
from incidents.ratings.scores import RatingIn
from tests.factories import auth_headers, make_scene, metres_point


@pytest.fixture
async def scene(db):
    return await make_scene(
        db, "cm_a", "cm_a2", "cm_b", "street", "district", "resident", "neighbour"
    )


async def _act(client, settings, user, number, action, **body):
    response = await client.post(
        f"/incidents/{number}/actions",
        json={"action": action, **body},
        headers=auth_headers(user, settings),
    )
    assert response.status_code == 200, response.text
    return response


async def _closed(
    client, settings, users, reporter=None, *, handler="worker", closer="cm_a", db=None
) -> tuple[str, str]:
    """A report filed (by `reporter`'s account, else anonymously), handled and closed."""
    lon, lat = metres_point(250, 250)
    headers = auth_headers(reporter, settings) if reporter else {}
    response = await client.post(
        "/reports", headers=headers, json={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
    )
    assert response.status_code == 201, response.text
    number, secret = response.json()["tracking_number"], response.json()["secret"]
    if handler != "worker":
        version = (
            await db.execute(
                text("SELECT version FROM incidents WHERE tracking_number = :t"), {"t": number}
            )
        ).scalar()
        await _act(
            client,
            settings,
            users["cm_a"],
            number,
            "assign",
            assignee=users[handler].username,
            version=version,
        )
    await _act(client, settings, users[handler], number, "accept")
    await _act(client, settings, users[handler], number, "resolve", note="已清理楼道")
    await _act(client, settings, users[closer], number, "close")
    return number, secret


async def _rate(client, settings, number, user=None, **body):
    headers = auth_headers(user, settings) if user else {}
    return await client.post(
        f"/reports/{number}/rating",
        headers=headers,
        json={"overall": 5, "timeliness": 5, "convenience": 4} | body,
    )


async def _work_orders(db, number) -> list[tuple]:
    return [
        tuple(r)
        for r in await db.execute(
            text("""
        SELECT w.id, w.status, u.username, w.due_at FROM work_orders w
        JOIN incidents i ON i.id = w.incident_id LEFT JOIN users u ON u.id = w.assignee_id
        WHERE i.tracking_number = :t ORDER BY w.id"""),
            {"t": number},
        )
    ]


async def _messages(db, topic) -> list[list[str]]:
    return [
        list(r[0])
        for r in await db.execute(
            text("""
        SELECT array(SELECT u.username FROM unnest(o.recipient_ids) x
                     JOIN users u ON u.id = x ORDER BY u.username)
        FROM outbox o WHERE o.topic = :topic ORDER BY o.id"""),
            {"topic": topic},
        )
    ]


# --- who rates, and once -------------------------------------------------------------------


async def test_the_reporter_rates_by_account_once_and_a_second_rating_is_refused(
    client, db, settings, scene
):
    _world, users = scene
    number, _secret = await _closed(client, settings, users, users["resident"])
    first = await _rate(client, settings, number, users["resident"], comment="很及时")
    assert first.status_code == 201, first.text
    assert first.json() | {"rating_id": 0} == {
        "rating_id": 0,
        "kind": "handling",
        "overall": 5,
        "label": "非常满意",
        "channel": "account",
        "work_order": None,
    }
    again = await _rate(client, settings, number, users["resident"], overall=1)
    assert again.status_code == 409
    history = (
        await client.get(
            f"/reports/{number}/rating", headers=auth_headers(users["resident"], settings)
        )
    ).json()
    assert [(r["overall"], r["comment"], r["excluded"]) for r in history["ratings"]] == [
        (5, "很及时", False)
    ]
    timeline = (await client.get(f"/reports/{number}")).json()["timeline"]
    assert timeline[-1]["kind"] == "rating" and "很及时" not in str(timeline)


async def test_a_rating_by_secret_and_a_wrong_secret_learns_nothing(client, db, settings, scene):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    wrong = await _rate(client, settings, number, secret="not-the-secret", comment="x")
    assert wrong.status_code == 403 and "rating_id" not in wrong.text
    peek = await client.get(f"/reports/{number}/rating", headers={"X-Report-Secret": "nope"})
    assert peek.status_code == 403 and "ratings" not in peek.json()
    nothing = await _rate(client, settings, number)
    assert nothing.status_code == 422
    assert nothing.json()["error"]["fields"][0]["field"] == "secret"
    stranger = await _rate(client, settings, number, users["neighbour"])
    assert stranger.status_code == 403
    right = await _rate(client, settings, number, secret=secret, overall=4, comment="不错")
    assert right.status_code == 201 and right.json()["channel"] == "secret"
    history = (
        await client.get(f"/reports/{number}/rating", headers={"X-Report-Secret": secret})
    ).json()
    assert [(r["overall"], r["comment"], r["channel"]) for r in history["ratings"]] == [
        (4, "不错", "secret")
    ]
    assert "recorded_by" not in history["ratings"][0] and "flags" not in history


async def test_staff_record_a_rating_given_by_phone_with_the_channel(client, db, settings, scene):
    _world, users = scene
    number, _secret = await _closed(client, settings, users)
    unnamed = await _rate(client, settings, number, users["cm_a"])
    assert unnamed.status_code == 422
    assert unnamed.json()["error"]["fields"][0]["field"] == "channel"
    assert (
        await _rate(client, settings, number, users["worker"], channel="phone")
    ).status_code == 403  # the handler may not record a rating of their own work
    assert (
        await _rate(client, settings, number, users["cm_b"], channel="phone")
    ).status_code == 404  # another community's manager does not see the report
    assert (
        await _rate(client, settings, number, users["resident"], channel="phone")
    ).status_code == 403
    assert (
        await _rate(client, settings, number, users["cm_a"], channel="phone")
    ).status_code == 403  # nor the manager who closed it (issue 15, item 4)
    recorded = await _rate(client, settings, number, users["cm_a2"], channel="phone", overall=4)
    assert recorded.status_code == 201 and recorded.json()["channel"] == "phone"
    history = (
        await client.get(f"/reports/{number}/rating", headers=auth_headers(users["cm_a"], settings))
    ).json()
    assert [(r["channel"], r["recorded_by"]) for r in history["ratings"]] == [("phone", "cm-a2")]


async def test_a_report_is_rated_only_once_closed(client, db, settings, scene):
    lon, lat = metres_point(250, 250)
    response = await client.post(
        "/reports", json={"category": "fire.blocked_exit", "lon": lon, "lat": lat}
    )
    number, secret = response.json()["tracking_number"], response.json()["secret"]
    early = await _rate(client, settings, number, secret=secret)
    assert early.status_code == 409
    out_of_range = await _rate(client, settings, number, secret=secret, overall=6)
    assert out_of_range.status_code == 422
    assert out_of_range.json()["error"]["fields"][0]["field"] == "overall"


# --- the default rating after the period ---------------------------------------------------


async def test_no_rating_within_the_period_records_the_default_once(client, db, settings, scene):
    _world, users = scene
    late, late_secret = await _closed(client, settings, users)
    recent, _ = await _closed(client, settings, users)
    now = datetime.now(UTC)
    await db.execute(
        text("UPDATE incidents SET closed_at = :at WHERE tracking_number = :t"),
        {"at": now - timedelta(days=8), "t": late},
    )
    await db.execute(
        text("UPDATE incidents SET closed_at = :at WHERE tracking_number = :t"),
        {"at": now - timedelta(days=2), "t": recent},
    )
    # Past the period, the reporter's rating is refused before the default is recorded too.
    assert (await _rate(client, settings, late, secret=late_secret)).status_code == 409

    def run(session):
        return default_ratings(session, now, 7, 3)

    first = await db.run_sync(run)
    assert (first.handling, first.rectification) == (1, 0)
    assert (await db.run_sync(run)).handling == 0  # idempotent
    rows = (
        await db.execute(
            text("""
        SELECT i.tracking_number, g.overall, g.channel, g.defaulted, g.excluded
        FROM ratings g JOIN incidents i ON i.id = g.incident_id
        WHERE i.tracking_number IN (:a, :b)"""),
            {"a": late, "b": recent},
        )
    ).all()
    assert [tuple(r) for r in rows] == [(late, 3, "default", True, False)]
    assert await _work_orders(db, late) == []
    timeline = (await client.get(f"/reports/{late}")).json()["timeline"]
    assert timeline[-1]["kind"] == "rating"


# --- bad rating -> rectification work order ------------------------------------------------


async def test_a_bad_rating_opens_a_work_order_up_the_chain_due_after_national_day(
    client, db, settings, scene
):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    closed = datetime(2025, 9, 30, 10, 0, tzinfo=CHINA_TZ)
    await db.execute(
        text("UPDATE incidents SET closed_at = :at WHERE tracking_number = :t"),
        {"at": closed, "t": number},
    )
    now = datetime(2025, 9, 30, 15, 0, tzinfo=CHINA_TZ)  # Tuesday, the eve of National Day
    result = await rate(
        db,
        intake_context(settings),
        number,
        RatingIn(overall=2, timeliness=2, convenience=3, comment="没处理好"),
        None,
        secret,
        now,
    )
    # 10-01..08 are off, Saturday 10-11 is a make-up working day: the 10th working day
    # after 09-30 is 10-21.
    due = datetime(2025, 10, 21, 15, 0, tzinfo=CHINA_TZ)
    assert result["work_order"]["due_at"] == due.isoformat()
    [(_id, status, assignee, due_at)] = await _work_orders(db, number)
    # The handler was the grid worker: the order goes to their community manager.
    assert (status, assignee, due_at) == ("open", "cm-a", due)
    assert await _messages(db, "work_order.opened") == [["cm-a"]]
    kinds = (
        await db.execute(
            text("""
        SELECT e.kind, e.public FROM incident_events e JOIN incidents i ON i.id = e.incident_id
        WHERE i.tracking_number = :t AND e.kind IN ('rating', 'work_order') ORDER BY e.id"""),
            {"t": number},
        )
    ).all()
    assert [tuple(k) for k in kinds] == [("rating", True), ("work_order", False)]


async def test_a_community_managers_bad_handling_goes_to_the_street(client, db, settings, scene):
    _world, users = scene
    number, secret = await _closed(client, settings, users, handler="cm_a", closer="cm_a2", db=db)
    response = await _rate(client, settings, number, secret=secret, overall=1)
    assert response.status_code == 201 and response.json()["work_order"]["status"] == "open"
    assert [w[2] for w in await _work_orders(db, number)] == ["street"]


async def test_the_revisit_is_recorded_whole_then_the_reporter_rerates_once(
    client, db, settings, scene
):
    _world, users = scene
    number, secret = await _closed(client, settings, users, users["resident"])
    bad = await _rate(client, settings, number, users["resident"], overall=2)
    order = bad.json()["work_order"]["id"]
    mine = (
        await client.get("/work-orders?mine=true", headers=auth_headers(users["cm_a"], settings))
    ).json()
    assert [(w["id"], w["tracking_number"], w["overall"]) for w in mine["work_orders"]] == [
        (order, number, 2)
    ]
    reporter = auth_headers(users["resident"], settings)
    early = await client.post(f"/work-orders/{order}/rating", headers=reporter, json={"overall": 4})
    assert early.status_code == 409  # not before the revisit
    complete = {
        "contact_method": "visit",
        "outcome": "居民认可整改",
        "actions_taken": "再次清理楼道并张贴告示",
    }
    revisit = f"/work-orders/{order}/revisit"
    assert (
        await client.post(revisit, json=complete, headers=auth_headers(users["worker"], settings))
    ).status_code == 404  # neither the assignee nor a manager over it
    for missing in ("contact_method", "outcome", "actions_taken"):
        partial = complete | {missing: " " if missing != "contact_method" else "fax"}
        response = await client.post(
            revisit, json=partial, headers=auth_headers(users["cm_a"], settings)
        )
        assert response.status_code == 422, missing
        assert response.json()["error"]["fields"][0]["field"] == missing
    done = await client.post(revisit, json=complete, headers=auth_headers(users["cm_a"], settings))
    assert done.status_code == 200 and done.json()["status"] == "revisited"
    twice = await client.post(revisit, json=complete, headers=auth_headers(users["cm_a"], settings))
    assert twice.status_code == 409
    assert await _messages(db, "work_order.revisited") == [["res"]]
    rerated = await client.post(
        f"/work-orders/{order}/rating", json={"overall": 2, "secret": secret}
    )
    assert rerated.status_code == 201, rerated.text
    assert rerated.json()["kind"] == "rectification"
    assert rerated.json()["work_order"] == {"id": order, "status": "closed"}
    again = await client.post(f"/work-orders/{order}/rating", headers=reporter, json={"overall": 5})
    assert again.status_code == 409
    # A bad re-rating is recorded and counted; it opens no further order.
    assert [w[1] for w in await _work_orders(db, number)] == ["closed"]
    history = (await client.get(f"/reports/{number}/rating", headers=reporter)).json()
    assert [(r["kind"], r["overall"]) for r in history["ratings"]] == [
        ("handling", 2),
        ("rectification", 2),
    ]
    assert history["work_orders"][0]["status"] == "closed"
    assert "outcome" not in history["work_orders"][0]


async def test_an_overdue_work_order_climbs_above_its_assignee(client, db, settings, scene):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    order = (await _rate(client, settings, number, secret=secret, overall=1)).json()["work_order"][
        "id"
    ]
    now = datetime(2026, 3, 4, 10, 0, tzinfo=CHINA_TZ)  # a Wednesday
    await db.execute(
        text("UPDATE work_orders SET due_at = :due WHERE id = :id"),
        {"due": now - timedelta(hours=1), "id": order},
    )

    def run(at):
        return lambda session: escalate(session, at, calendar=WorkCalendar())

    first = await db.run_sync(run(now))
    assert (first.work_orders, first.work_order_reminders) == (1, 1)
    assert await _messages(db, "work_order.escalated") == [["street"]]
    assert await _messages(db, "work_order.reminder") == [["cm-a"]]
    assert (await db.run_sync(run(now + timedelta(hours=2)))).work_orders == 0
    assert (await db.run_sync(run(now + timedelta(days=1)))).work_orders == 1
    assert (await _messages(db, "work_order.escalated"))[-1] == ["district"]
    steps = (
        await db.execute(
            text("""
        SELECT e.kind, CAST(e.data->>'level' AS int) FROM incident_events e
        WHERE CAST(e.data->>'work_order' AS bigint) = :id AND e.data->>'step' = 'work_order'
        ORDER BY e.id"""),
            {"id": order},
        )
    ).all()
    assert [tuple(s) for s in steps] == [
        ("escalation", 2),
        ("reminder", 2),
        ("escalation", 3),
        ("reminder", 3),
    ]
    level = (
        await db.execute(
            text("SELECT escalation_level FROM work_orders WHERE id = :id"), {"id": order}
        )
    ).scalar()
    assert level == 3


# --- false or malicious ratings -------------------------------------------------------------


async def _flagged_and_excluded(client, db, settings, users) -> tuple[str, str, int]:
    number, secret = await _closed(client, settings, users)
    await _rate(client, settings, number, secret=secret, overall=1, comment="乱写的")
    rating = (
        await db.execute(
            text("""
        SELECT g.id FROM ratings g JOIN incidents i ON i.id = g.incident_id
        WHERE i.tracking_number = :t"""),
            {"t": number},
        )
    ).scalar()
    cm_a = auth_headers(users["cm_a"], settings)
    flag = await client.post(
        f"/ratings/{rating}/flags",
        headers=cm_a,
        json={"reason": "评价人并非上报人，内容与事实不符"},
    )
    assert flag.status_code == 201, flag.text
    flag_id = flag.json()["id"]
    own = await client.post(
        f"/rating-flags/{flag_id}/decision", headers=cm_a, json={"confirm": True}
    )
    assert own.status_code == 403  # a second manager confirms
    confirmed = await client.post(
        f"/rating-flags/{flag_id}/decision",
        json={"confirm": True},
        headers=auth_headers(users["cm_a2"], settings),
    )
    assert confirmed.status_code == 200 and confirmed.json()["excluded"] is True
    return number, secret, rating


async def test_a_flag_needs_a_reason_and_a_second_manager(client, db, settings, scene):
    _world, users = scene
    number, secret = await _closed(client, settings, users)
    await _rate(client, settings, number, secret=secret, overall=2)
    rating = (await db.execute(text("SELECT max(id) FROM ratings"))).scalar()
    cm_a = auth_headers(users["cm_a"], settings)
    no_reason = await client.post(f"/ratings/{rating}/flags", headers=cm_a, json={})
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["fields"][0]["field"] == "reason"
    outside = await client.post(
        f"/ratings/{rating}/flags",
        json={"reason": "x"},
        headers=auth_headers(users["cm_b"], settings),
    )
    assert outside.status_code == 404
    worker = await client.post(
        f"/ratings/{rating}/flags",
        json={"reason": "x"},
        headers=auth_headers(users["worker"], settings),
    )
    assert worker.status_code == 403
    first = await client.post(f"/ratings/{rating}/flags", headers=cm_a, json={"reason": "恶意"})
    assert first.status_code == 201
    second = await client.post(
        f"/ratings/{rating}/flags",
        json={"reason": "恶意"},
        headers=auth_headers(users["cm_a2"], settings),
    )
    assert second.status_code == 409  # one pending flag per rating
    assert await _messages(db, "rating.flagged") == [["cm-a2", "district", "street"]]


async def test_an_excluded_rating_leaves_the_statistics_but_not_the_history(
    client, db, settings, scene
):
    _world, users = scene
    number, secret, rating = await _flagged_and_excluded(client, db, settings, users)
    counted = (
        await db.execute(
            text("""
        SELECT count(*) FILTER (WHERE NOT excluded), count(*) FROM ratings
        WHERE incident_id = (SELECT id FROM incidents WHERE tracking_number = :t)
          AND kind = 'handling'"""),
            {"t": number},
        )
    ).one()
    assert tuple(counted) == (0, 1)
    for headers in ({"X-Report-Secret": secret}, auth_headers(users["street"], settings)):
        history = (await client.get(f"/reports/{number}/rating", headers=headers)).json()
        assert [(r["id"], r["overall"], r["excluded"]) for r in history["ratings"]] == [
            (rating, 1, True)
        ]
    staff = (
        await client.get(
            f"/reports/{number}/rating", headers=auth_headers(users["street"], settings)
        )
    ).json()
    assert [f["status"] for f in staff["flags"]] == ["confirmed"]
    # The bad rating's work order stays too: exclusion changes statistics, not history.
    assert len(staff["work_orders"]) == 1


async def test_the_rater_appeals_and_an_upheld_appeal_restores_the_rating(
    client, db, settings, scene
):
    _world, users = scene
    number, secret, rating = await _flagged_and_excluded(client, db, settings, users)
    assert (
        await client.post(
            f"/ratings/{rating}/appeals", json={"reason": "我就是上报人", "secret": "wrong"}
        )
    ).status_code == 404
    no_reason = await client.post(f"/ratings/{rating}/appeals", json={"secret": secret})
    assert no_reason.status_code == 422
    appealed = await client.post(
        f"/ratings/{rating}/appeals",
        json={"reason": "我就是上报人，问题确实没解决", "secret": secret},
    )
    assert appealed.status_code == 201, appealed.text
    again = await client.post(
        f"/ratings/{rating}/appeals", json={"reason": "再申诉", "secret": secret}
    )
    assert again.status_code == 409
    appeal_id = appealed.json()["id"]
    decision = f"/rating-appeals/{appeal_id}/decision"
    for who in ("cm_a", "cm_a2"):  # they excluded it
        response = await client.post(
            decision, json={"upheld": True, "note": "x"}, headers=auth_headers(users[who], settings)
        )
        assert response.status_code == 403, who
    street = auth_headers(users["street"], settings)
    no_note = await client.post(decision, headers=street, json={"upheld": True})
    assert no_note.status_code == 422
    upheld = await client.post(
        decision, headers=street, json={"upheld": True, "note": "核实为上报人本人评价"}
    )
    assert upheld.status_code == 200 and upheld.json()["excluded"] is False
    history = (await client.get(f"/reports/{number}/rating", headers=street)).json()
    assert [r["excluded"] for r in history["ratings"]] == [False]
    assert [(a["status"], a["decision_note"]) for a in history["appeals"]] == [
        ("upheld", "核实为上报人本人评价")
    ]
    twice = await client.post(decision, headers=street, json={"upheld": False, "note": "y"})
    assert twice.status_code == 409


async def test_only_an_excluded_rating_can_be_appealed(client, db, settings, scene):
    _world, users = scene
    number, _secret = await _closed(client, settings, users, users["resident"])
    await _rate(client, settings, number, users["resident"], overall=3)
    rating = (await db.execute(text("SELECT max(id) FROM ratings"))).scalar()
    response = await client.post(
        f"/ratings/{rating}/appeals",
        json={"reason": "x"},
        headers=auth_headers(users["resident"], settings),
    )
    assert response.status_code == 409


# --- the CLI ---------------------------------------------------------------------------------


def test_the_cli_records_default_ratings_and_prints_the_count(conn, monkeypatch):
    from contextlib import contextmanager

    from click.testing import CliRunner

    import cli.main
    import cli.ratings

    @contextmanager
    def in_test_transaction():
        yield conn

    monkeypatch.setattr(cli.ratings, "bulk_transaction", in_test_transaction)
    lon, lat = metres_point(250, 250)
    conn.execute(
        text("""
        INSERT INTO incidents (tracking_number, secret_hash, category_code, status, location,
            input_lon, input_lat, input_system, routing_rule, responsible_level, channel,
            closed_at)
        VALUES ('CLI-DEFAULT', 'x', 'fire.blocked_exit', 'closed',
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :lon, :lat, 'wgs84', 'inside',
                'primary', 'web', now() - interval '30 days')
    """),
        {"lon": lon, "lat": lat},
    )
    dry = CliRunner().invoke(cli.main.main, ["ratings", "default", "--dry-run"])
    assert dry.exit_code == 0 and "would record 1 default rating(s)" in dry.stdout
    result = CliRunner().invoke(cli.main.main, ["ratings", "default"])
    assert result.exit_code == 0, result.output
    assert "recorded 1 default rating(s) (1 of handling, 0 of rectifications)" in result.stdout
    again = CliRunner().invoke(cli.main.main, ["ratings", "default"])
    assert "recorded 0 default rating(s)" in again.stdout
