"""Following a report without its secret: tracking numbers as people type them, the
reporter's view for the last four digits of their phone (a miss answers like an unknown
number; five tries per number an hour, then 429), a signed-in resident's own reports,
and the /, /track and /track/{number} pages' answers."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.reporter_lookup import LOOKUP_PER_ADDRESS, LOOKUP_PER_NUMBER
from incidents.notify.following import canonical_tracking_number
from tests.factories import auth_headers, make_scene, metres_point

PHONE = "138 1234 5678"
OWN_TEXT = "五楼走廊电动车充电"


@pytest.fixture
async def scene(db):
    _world, users = await make_scene(db, "resident", "neighbour")
    return users


async def _file(client, headers=None, phone: str | None = PHONE) -> str:
    lon, lat = metres_point(250, 250)
    body = {"category": "fire.blocked_exit", "lon": lon, "lat": lat, "description": OWN_TEXT}
    if phone:
        body |= {"contact_name": "赵六", "contact_phone": phone}
    response = await client.post("/reports", json=body, headers=headers or {})
    assert response.status_code == 201, response.text
    return response.json()["tracking_number"]


async def _lookup(client, number: str, digits: str, ip: str | None = None):
    return await client.post(f"/reports/{number}/reporter-view", json={"phone_last4": digits})


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("261206-cw20ewv8 ", "261206-CW20EWV8"),
        (" 261206 CW20 EWV8", "261206-CW20EWV8"),
        ("261206cw20ewv8", "261206-CW20EWV8"),
        ("２６１２０６－ｃｗ２０ｅｗｖ８", "261206-CW20EWV8"),
        ("261206—CW20EWV8", "261206-CW20EWV8"),
        ("261206-C02OEWV8", "261206-C020EWV8"),  # O read as 0
        ("261206-CW2IEWV8", "261206-CW21EWV8"),  # I read as 1
    ],
)
def test_a_number_as_people_type_it_is_made_canonical(typed, canonical):
    assert canonical_tracking_number(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abc",
        "26120-CW20EWV8",
        "261206-CW20EWV",
        "261206-CW20EWVU",
        "2612O6-CW20EWV8x",
        "261206-CW20EWV8-1",
    ],
)
def test_anything_else_is_not_a_number(typed):
    assert canonical_tracking_number(typed) is None


async def test_the_last_four_phone_digits_give_the_reporters_view(client, scene):
    number = await _file(client)
    public = (await client.get(f"/reports/{number}")).json()
    assert public["own"] is None
    answer = await _lookup(client, number, "5678")
    assert answer.status_code == 200, answer.text
    assert answer.json()["own"]["description"] == OWN_TEXT
    assert answer.headers["cache-control"] == "private, no-store"
    # The reporter's view, never their phone or name.
    assert "5678" not in answer.text and "赵六" not in answer.text


async def test_a_miss_answers_exactly_like_an_unknown_number(client, scene):
    number = await _file(client)
    without_phone = await _file(client, phone=None)
    unknown = "260101-ZZZZZZZZ"
    answers = {
        "wrong digits": await _lookup(client, number, "1234"),
        "no phone given": await _lookup(client, without_phone, "5678"),
        "unknown number": await _lookup(client, unknown, "5678"),
    }
    public_unknown = await client.get(f"/reports/{unknown}")
    for why, answer in answers.items():
        assert answer.status_code == 404, why
    shapes = {
        why: a.json()["error"] | {"message": a.json()["error"]["message"].replace(n, "N")}
        for (why, a), n in zip(answers.items(), (number, without_phone, unknown), strict=True)
    }
    assert len({repr(s) for s in shapes.values()}) == 1, shapes
    assert shapes["unknown number"]["message"] == public_unknown.json()["error"]["message"].replace(
        unknown, "N"
    )


async def test_bad_digits_are_a_422_naming_the_field(client, scene):
    number = await _file(client)
    for digits in ("567", "56789", "abcd", ""):
        answer = await _lookup(client, number, digits)
        assert answer.status_code == 422
        assert [f["field"] for f in answer.json()["error"]["fields"]] == ["phone_last4"]


async def test_guessing_the_digits_stops_after_five_tries_per_number(client, scene):
    number = await _file(client)
    other = await _file(client)
    limit = LOOKUP_PER_NUMBER[0]
    for guess in range(limit):
        assert (await _lookup(client, number, f"{guess:04d}")).status_code == 404
    # The right digits no longer help: the number is locked for the window.
    refused = await _lookup(client, number, "5678")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    # Another report is counted apart.
    assert (await _lookup(client, other, "5678")).status_code == 200


async def test_one_address_cannot_spread_its_guesses_over_many_numbers(client, scene):
    numbers = [await _file(client) for _ in range(LOOKUP_PER_ADDRESS[0] // LOOKUP_PER_NUMBER[0])]
    tries = 0
    for number in numbers:
        for guess in range(LOOKUP_PER_NUMBER[0]):
            assert (await _lookup(client, number, f"{guess:04d}")).status_code == 404
            tries += 1
    assert tries == LOOKUP_PER_ADDRESS[0]
    fresh = await _file(client)
    assert (await _lookup(client, fresh, "5678")).status_code == 429


async def test_a_resident_lists_their_own_reports_only(client, db, settings, scene):
    mine = [await _file(client, auth_headers(scene["resident"], settings)) for _ in range(2)]
    theirs = await _file(client, auth_headers(scene["neighbour"], settings))
    anonymous = await _file(client)
    answer = await client.get("/reports/mine", headers=auth_headers(scene["resident"], settings))
    assert answer.status_code == 200
    listed = [item["tracking_number"] for item in answer.json()["items"]]
    assert sorted(listed) == sorted(mine)
    assert theirs not in listed and anonymous not in listed
    item = answer.json()["items"][0]
    assert set(item) == {
        "tracking_number",
        "status",
        "category",
        "created_at",
        "closed_at",
        "rated",
    }
    assert answer.headers["cache-control"] == "private, no-store"


async def test_my_reports_need_a_residents_account(client, settings, scene):
    assert (await client.get("/reports/mine")).status_code == 401
    staff = await client.get("/reports/mine", headers=auth_headers(scene["worker"], settings))
    assert staff.status_code == 403


async def test_the_front_page_is_a_page_in_both_languages(client, scene):
    for lang, words in (("zh-Hans", "查询上报进度"), ("en", "Find my report")):
        page = await client.get("/", params={"lang": lang})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert words in page.text
        assert 'action="/track"' in page.text


async def test_track_without_a_number_is_the_lookup_form(client, scene):
    page = await client.get("/track")
    assert page.status_code == 200
    assert 'id="lookup-number"' in page.text
    assert "aria-invalid" not in page.text


async def test_a_number_typed_in_lower_case_goes_to_its_canonical_page(client, scene):
    number = await _file(client)
    typed = f" {number.lower()} "
    form = await client.get("/track", params={"number": typed, "lang": "en"})
    assert form.status_code == 303
    assert form.headers["location"] == f"/track/{number}?lang=en"
    path = await client.get(f"/track/{number.lower()}")
    assert path.status_code == 308
    assert path.headers["location"] == f"/track/{number}"
    assert (await client.get(f"/track/{number}")).status_code == 200


async def test_a_malformed_number_gets_a_clear_message_not_a_regex(client, scene):
    form = await client.get("/track", params={"number": "12345", "lang": "en"})
    assert form.status_code == 400
    assert "That is not a tracking number" in form.text
    assert 'aria-invalid="true"' in form.text
    assert "pattern" not in form.text and "^[0-9]" not in form.text
    path = await client.get("/track/not-a-number")
    assert path.status_code == 404
    assert "编号格式不对" in path.text
    assert 'value="not-a-number"' in path.text


async def test_the_lookup_leaves_no_phone_in_the_rate_limit_keys(client, db, scene):
    number = await _file(client)
    await _lookup(client, number, "5678")
    keys = (
        await db.execute(
            text("SELECT key FROM rate_limit_counters WHERE key LIKE 'reporter_lookup:%'")
        )
    ).scalars()
    keys = list(keys)
    assert keys and not any("5678" in key for key in keys)
