"""A report filed by pin alone takes the nearest building's address at intake (within
50 m, measured in metres); one that gives an address keeps it; staff lists show it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from tests.factories import assign, auth_headers, make_building, make_user, make_world, metres_point

EBIKE = "fire.ebike_indoor"


@pytest.fixture
async def scene(db):
    """Cell a1 with its worker and two buildings: 'near' at 100..140 m and 'far' at
    300..340 m (x), both 100..140 m (y)."""
    world = await make_world(db)
    worker = await make_user(db, "w-a1", "grid_worker", world.community_a, "周网格")
    await assign(db, world.cell_a1, worker, valid_from=date(2026, 1, 1))
    await make_building(db, world.cell_a1, (100, 100, 140, 140), address="幸福路8号")
    await make_building(db, world.cell_a1, (300, 100, 340, 140), address="幸福路20号")
    return world, worker


def _at(x: float, y: float, **extra) -> dict:
    lon, lat = metres_point(x, y)
    return {"category": EBIKE, "lon": lon, "lat": lat, **extra}


async def _address(db, number: str) -> str | None:
    return (
        await db.execute(
            text("SELECT address FROM incidents WHERE tracking_number = :t"), {"t": number}
        )
    ).scalar_one()


async def _file(client, body: dict) -> str:
    response = await client.post("/reports", json=body)
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def test_a_pin_inside_a_building_takes_its_address(client, db, scene):
    number = await _file(client, _at(120, 120))
    assert await _address(db, number) == "幸福路8号"


async def test_a_pin_outside_takes_the_nearest_building_within_50_m(client, db, scene):
    # 30 m east of 'near', 130 m west of 'far': the nearer one, not the first found.
    assert await _address(db, await _file(client, _at(170, 120))) == "幸福路8号"
    # 25 m west of 'far', 135 m east of 'near'.
    assert await _address(db, await _file(client, _at(275, 120))) == "幸福路20号"


async def test_a_pin_beyond_50_m_of_every_building_has_no_address(client, db, scene):
    # 60 m south of 'near' (and further from 'far'): metres, not degrees, decide.
    assert await _address(db, await _file(client, _at(120, 40))) is None
    assert await _address(db, await _file(client, _at(450, 450))) is None


async def test_a_given_address_is_kept(client, db, scene):
    number = await _file(client, _at(120, 120, address="幸福路8号3单元楼道"))
    assert await _address(db, number) == "幸福路8号3单元楼道"


async def test_intake_is_still_one_statement(client, db, scene, monkeypatch):
    """The lookup runs inside the intake statement: filing a report without photos runs
    one INSERT ... statement (plus the category read), no separate address query, on the
    session or (the lean path) straight on its connection."""
    from core.raw_sql import OnConnection
    from incidents.intake import filing as intake

    seen: list[str] = []

    def spying(real):
        async def spy(*args, **kwargs):
            statement = args[1] if isinstance(args[0], OnConnection) else args[0]
            seen.append(str(statement))
            return await real(*args, **kwargs)

        return spy

    monkeypatch.setattr(db, "execute", spying(db.execute))
    monkeypatch.setattr(OnConnection, "first", spying(OnConnection.first))
    monkeypatch.setattr(OnConnection, "all", spying(OnConnection.all))
    await _file(client, _at(170, 120))
    writes = [s for s in seen if "INSERT INTO incidents" in s]
    assert len(writes) == 1 and "nearest_address" in writes[0]
    assert not [s for s in seen if "FROM buildings" in s and s not in writes]
    assert intake.ADDRESS_RADIUS_M == 50.0


async def test_staff_see_the_address_in_the_work_list_and_the_incident(client, db, scene, settings):
    _world, worker = scene
    number = await _file(client, _at(170, 120))
    headers = auth_headers(worker, settings)
    listed = await client.get("/incidents", params={"view": "mine"}, headers=headers)
    assert listed.status_code == 200, listed.text
    mine = {item["tracking_number"]: item for item in listed.json()["items"]}
    assert mine[number]["address"] == "幸福路8号"
    one = await client.get(f"/incidents/{number}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["address"] == "幸福路8号"


# --- staff filing for a resident (phone, walk_in, on_behalf) ------------------------------


@pytest.mark.parametrize("channel", ["phone", "walk_in", "on_behalf"])
async def test_staff_file_for_a_resident_through_the_staff_channels(
    client, db, scene, settings, channel
):
    world, worker = scene
    manager = await make_user(db, "cm-a", "community_manager", world.community_a)
    for filer in (worker, manager):
        response = await client.post(
            "/reports",
            headers=auth_headers(filer, settings),
            json=_at(
                120,
                120,
                channel=channel,
                description="独居老人家中电线老化",
                contact_name="李阿姨",
                contact_phone="13800000000",
            ),
        )
        assert response.status_code == 201, response.text
        row = (
            (
                await db.execute(
                    text("""
            SELECT i.channel, i.reporter_id, i.reporter_name, e.kind, e.actor_id,
                   e.actor_role, e.data
            FROM incidents i JOIN incident_events e ON e.incident_id = i.id
            WHERE i.tracking_number = :t ORDER BY e.id LIMIT 1
        """),
                    {"t": response.json()["tracking_number"]},
                )
            )
            .mappings()
            .one()
        )
        assert row["channel"] == channel and row["reporter_name"] == "李阿姨"
        # The staff member is the filer, in the report and its first event.
        assert row["reporter_id"] == filer.id
        assert (row["kind"], row["actor_id"], row["actor_role"]) == (
            "created",
            filer.id,
            filer.role,
        )
        assert row["data"] == {"channel": channel}


@pytest.mark.parametrize("channel", ["phone", "walk_in", "on_behalf"])
async def test_residents_and_anonymous_reporters_may_not_use_staff_channels(
    client, db, scene, settings, channel
):
    world, _worker = scene
    resident = await make_user(db, "resident1", "resident", world.community_a)
    before = (await db.execute(text("SELECT count(*) FROM incidents"))).scalar()
    for headers in ({}, auth_headers(resident, settings)):
        response = await client.post(
            "/reports", headers=headers, json=_at(120, 120, channel=channel)
        )
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert [f["field"] for f in error["fields"]] == ["channel"]
    assert (await db.execute(text("SELECT count(*) FROM incidents"))).scalar() == before


async def test_an_unknown_channel_is_refused_naming_the_field(client, db, scene):
    response = await client.post("/reports", json=_at(120, 120, channel="fax"))
    assert response.status_code == 422
    assert "channel" in response.text


def test_report_channels_are_one_vocabulary():
    """What intake accepts is what the incidents table allows (plus Open311's own)."""
    from typing import get_args

    from incidents.intake.filing import STAFF_CHANNELS, ReportIn
    from incidents.models.reports import CHANNELS

    accepted = set(get_args(ReportIn.model_fields["channel"].annotation))
    assert accepted | {"open311"} == set(CHANNELS)
    assert accepted >= STAFF_CHANNELS
