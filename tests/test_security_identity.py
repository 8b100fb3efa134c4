"""Full ID numbers cannot be recovered by staff (issue 15, item 5): records show an age,
never the birth date, and the brute-force loop (about 270 exact-ID searches for one
person: region from the address, a birth date near the age, the last four shown) is
stopped at 20 an hour per account with 429, and audited as alerts."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from api.id_search import ID_SEARCH_BURST, ID_SEARCH_LIMIT
from tests.factories import (
    auth_headers,
    make_building,
    make_household,
    make_person,
    make_user,
    make_world,
    valid_id_number,
)

BIRTH = date(1952, 3, 17)
ID_NUMBER = valid_id_number("880101" + BIRTH.strftime("%Y%m%d") + "007")
GUESSES = 270


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch):
    """The counting windows' clock held still, so no test straddles a window's end."""
    monkeypatch.setattr("core.rate_limits.time.time", lambda: 1_800_000_030.0)


@pytest.fixture
async def scene(db, settings):
    """One elderly resident with an ID number in community a, and two managers there."""
    world = await make_world(db)
    building = await make_building(db, world.cell_a1, (10, 10, 40, 40), address="测试路1号")
    home = await make_household(db, building, "1单元101")
    person = await make_person(
        db,
        home,
        "吴老伯",
        settings=settings,
        id_number=ID_NUMBER,
        birth_date=BIRTH,
        tags=["elderly_alone"],
    )
    prying = await make_user(db, "cm-pry", "community_manager", world.community_a)
    other = await make_user(db, "cm-other", "community_manager", world.community_a)
    return person, prying, other


def _guesses() -> list[str]:
    """What an attacker tries: the district's prefix, each day of the years the age
    allows, and the shown sequence digits; the real number about half way through."""
    start = BIRTH - timedelta(days=GUESSES // 2)
    return [
        valid_id_number("880101" + (start + timedelta(days=i)).strftime("%Y%m%d") + "007")
        for i in range(GUESSES)
    ]


def _no_birth_date(body: object) -> None:
    written = json.dumps(body, ensure_ascii=False)
    assert "birth_date" not in written
    for form in (BIRTH.isoformat(), BIRTH.strftime("%Y%m%d"), "1952年3月17日"):
        assert form not in written


async def test_records_and_searches_show_an_age_not_the_birth_date(client, settings, scene):
    person, prying, _ = scene
    headers = auth_headers(prying, settings)
    found = await client.get("/register/people", params={"q": "吴老伯"}, headers=headers)
    record = await client.get(f"/register/people/{person.id}", headers=headers)
    cell = await client.get("/register/people", params={"tag": "elderly_alone"}, headers=headers)
    for answer in (found, record, cell):
        assert answer.status_code == 200, answer.text
        _no_birth_date(answer.json())
    (row,) = found.json()["people"]
    age = (
        date.today().year
        - BIRTH.year
        - ((date.today().month, date.today().day) < (BIRTH.month, BIRTH.day))
    )
    assert row["age"] == age and record.json()["age"] == age
    assert row["id_number"] == "*" * 14 + ID_NUMBER[-4:]


async def test_the_brute_force_loop_is_stopped_and_audited(client, db, settings, scene):
    person, prying, other = scene
    headers = auth_headers(prying, settings)
    limit, _ = ID_SEARCH_LIMIT
    guesses = _guesses()
    assert guesses.index(ID_NUMBER) > limit  # the loop would reach it after the limit
    answers = [
        await client.get("/register/people", params={"q": guess}, headers=headers)
        for guess in guesses
    ]

    codes = [a.status_code for a in answers]
    assert codes == [200] * limit + [429] * (GUESSES - limit)
    refused = answers[guesses.index(ID_NUMBER)]
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # Not one answer found the person; none carries a birth date.
    for answer in answers:
        assert str(person.id) not in json.dumps(answer.json().get("people", []))
        _no_birth_date(answer.json())

    alerts = (
        await db.execute(
            text(
                "SELECT detail, actor_id, subject_type FROM audit_log "
                "WHERE action = 'alert' AND actor_id = :me ORDER BY id"
            ),
            {"me": prying.id},
        )
    ).all()
    kinds = [a.detail["kind"] for a in alerts]
    assert kinds.count("id_search_over_limit") == GUESSES - limit  # each refused attempt
    assert kinds.count("id_search_burst") >= 1  # the loop is a burst
    assert {a.subject_type for a in alerts} == {"id_search"}
    # The guesses themselves are not in the audit log.
    details = json.dumps([a.detail for a in alerts])
    assert ID_NUMBER not in details and ID_NUMBER[:14] not in details

    # The limit is the account's: a colleague's exact search still runs (and finds).
    colleague = await client.get(
        "/register/people", params={"q": ID_NUMBER}, headers=auth_headers(other, settings)
    )
    assert colleague.status_code == 200
    assert [p["id"] for p in colleague.json()["people"]] == [person.id]
    # Name searches are not exact-ID searches and are not held back.
    by_name = await client.get("/register/people", params={"q": "吴老伯"}, headers=headers)
    assert by_name.status_code == 200


async def test_a_burst_under_the_limit_is_alerted_but_answered(client, db, settings, scene):
    _, prying, _ = scene
    burst, _ = ID_SEARCH_BURST
    headers = auth_headers(prying, settings)
    for guess in _guesses()[:burst]:
        answer = await client.get("/register/people", params={"q": guess}, headers=headers)
        assert answer.status_code == 200
    kinds = (
        (
            await db.execute(
                text(
                    "SELECT detail->>'kind' FROM audit_log WHERE action = 'alert' AND actor_id = :me"
                ),
                {"me": prying.id},
            )
        )
        .scalars()
        .all()
    )
    assert kinds == ["id_search_burst"]
