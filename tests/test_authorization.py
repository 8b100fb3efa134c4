"""The authorisation matrix: every route of the app, for every role, with an object in the
caller's area and one outside it, answers as tests/authz_policy.py says (a route without
a policy fails); and the property-level rules: the reporter's contact only for the
assignee and managers over the report, ID numbers always masked, no personal data on any
public route, bulk exports of personal data for admins only."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.routing import Mount

from api.app import create_app
from api.deps import get_bulk_runner, get_session
from core.errors import ServiceUnavailable
from core.settings import Settings
from grid.models import Region
from incidents.models.notify import InboxItem, OutboxMessage
from tests.authz_policy import (
    ALLOWED,
    ANONYMOUS,
    POLICY,
    ROLES,
    STANDARD,
    Call,
    Place,
    Rule,
)
from tests.factories import (
    assign,
    auth_headers,
    make_building,
    make_cell,
    make_household,
    make_person,
    make_region,
    make_user,
    make_world,
    metres_point,
    valid_id_number,
)

try:  # FastAPI >= 0.16x keeps included routers lazily; this walks them
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI lists every route flat
    iter_route_contexts = None


def route_keys(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, pages, standard APIs and
    static mounts included (HEAD, which Starlette adds to GET routes, left out)."""
    routes = iter_route_contexts(app.routes) if iter_route_contexts else app.routes
    keys: set[tuple[str, str]] = set()
    for route in routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            keys.add(("GET", route.path))
            continue
        keys.update((method, route.path) for method in (route.methods or ()) if method != "HEAD")
    return sorted(keys)


def _routes_at_collection() -> list[tuple[str, str]]:
    # No database is touched building the app: only its route table is read.
    settings = Settings(
        environment="test",
        secret_key=secrets.token_urlsafe(48),
        id_hash_key=secrets.token_urlsafe(48),
    )
    return route_keys(create_app(settings))


ROUTES = _routes_at_collection()

# Where each role's area ends: the nearest object it may not reach. The worker is
# assigned to cell a1 only (a2 is a colleague's, in the same community); the community
# manager has community A (b1 is community B's); street and district managers have
# district 880101 (c1 is in district 880102); a resident owns the a1 objects only.
OUTSIDE = {
    "resident": "c1",
    "grid_worker": "a2",
    "community_manager": "b1",
    "street_manager": "c1",
    "district_manager": "c1",
    "admin": "c1",
}
SCOPES = ("in", "out")


def _cases() -> list[Any]:
    cases = []
    for method, path in ROUTES:
        rule = POLICY.get((method, path))
        for role in ROLES:
            scopes = SCOPES if rule and rule.scoped and role != ANONYMOUS else ("in",)
            cases.extend(
                pytest.param(method, path, role, scope, id=f"{method} {path} {role} {scope}")
                for scope in scopes
            )
    return cases


# --- the world -----------------------------------------------------------------------------

PERSON_NAMES = {"a1": "授权甲一", "a2": "授权乙二", "b1": "授权丙三", "c1": "授权丁四"}
REPORTER_NAME = "举报人王某"
REPORTER_PHONE = "13700004321"
DESCRIPTION_PHONE = "13911112222"


@dataclass
class World:
    """The committed-for-the-module city: places a1, a2, b1, c1 and an account per role."""

    places: dict[str, Place]
    tokens: dict[str, dict[str, str]]
    extra: dict[str, dict[str, str]]  # other accounts' headers (backup worker, roots)
    id_numbers: list[str]
    personal: list[str] = field(default_factory=list)  # strings no public route may show


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


async def _ok(response, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:400]}"
    )
    return response.json() if response.content else {}


BULK_STUB = "bulk work is not run by the authorisation matrix"


def matrix_app(settings: Settings, conn: AsyncConnection) -> FastAPI:
    """The real app, every request served by a fresh session on the module's connection
    (whatever the request commits stays inside the test's savepoint)."""
    app = create_app(settings)

    def new_session() -> AsyncSession:
        return AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    async def session_dep() -> AsyncIterator[AsyncSession]:
        async with new_session() as session:
            yield session

    @asynccontextmanager
    async def sessions() -> AsyncIterator[AsyncSession]:
        async with new_session() as session:
            yield session

    async def stub_bulk_runner():
        # Bulk work runs on its own engine and commits outside the test's transaction:
        # reaching it is all the matrix needs to know.
        async def run(_work):
            raise ServiceUnavailable(BULK_STUB, BULK_STUB)

        return run

    app.dependency_overrides[get_session] = session_dep
    app.dependency_overrides[get_bulk_runner] = stub_bulk_runner
    app.state.sessions = sessions
    # Counters (ID searches, reporter look-ups) write on the module's connection too.
    app.state.autocommit = sessions
    return app


async def _file_report(
    client: AsyncClient, place: Place, category: str, *, headers: dict[str, str], photo: bool
) -> dict[str, Any]:
    fields = {
        "category": category,
        "lon": str(place.lon),
        "lat": str(place.lat),
        "description": f"楼道堵塞，联系{DESCRIPTION_PHONE}",
        "contact_name": REPORTER_NAME,
        "contact_phone": REPORTER_PHONE,
    }
    files = {"photos": ("p.jpg", _jpeg(), "image/jpeg")} if photo else None
    if files:
        response = await client.post("/reports", data=fields, files=files, headers=headers)
    else:
        response = await client.post("/reports", json=fields, headers=headers)
    return await _ok(response, 201)


async def _build_place(
    client: AsyncClient,
    session: AsyncSession,
    settings: Settings,
    key: str,
    place: Place,
    cell,
    serial: int,
    worker: dict[str, str],
    reporter: dict[str, str],
    declarer: dict[str, str],
    roots: tuple[dict[str, str], dict[str, str]],
) -> str:
    """Fill a place with its register entries and reports in every state a route needs;
    returns the person's raw ID number."""
    x0, y0 = {"a1": (0, 0), "a2": (500, 0), "b1": (1000, 0), "c1": (0, 1000)}[key]
    building = await make_building(
        session, cell, (x0 + 200, y0 + 200, x0 + 240, y0 + 240), address=f"授权路{serial}号"
    )
    household = await make_household(session, building, "101")
    id_number = valid_id_number(f"11010119800101{serial:03d}")
    person = await make_person(
        session,
        household,
        PERSON_NAMES[key],
        settings=settings,
        id_number=id_number,
        phone=f"1360000{serial:04d}",
        tags=["elderly_alone"],
    )
    await session.commit()
    place.building_id, place.house_id, place.person_id = building.id, household.house_id, person.id
    root1, root2 = roots
    visited = await _ok(
        await client.post(
            "/patrol/visits",
            headers=worker,
            data={"building_id": str(building.id)},
            files={"photos": ("v.jpg", _jpeg(), "image/jpeg")},
        ),
        201,
    )
    place.visit_id, place.visit_photo_id = visited["id"], visited["photo_ids"][0]

    # An open report with a published photo, accepted, with a pending extension request.
    filed = await _file_report(client, place, "fire.blocked_exit", headers=reporter, photo=True)
    place.open_number = number = filed["tracking_number"]
    state = await _ok(await client.get(f"/incidents/{number}/publication", headers=root1))
    place.photo_id = state["photos"][0]["id"]
    await _ok(
        await client.post(
            f"/incidents/{number}/review", headers=root1, json={"publish_photos": [place.photo_id]}
        )
    )
    await _ok(
        await client.post(f"/incidents/{number}/actions", headers=worker, json={"action": "accept"})
    )
    due = (await _ok(await client.get(f"/incidents/{number}", headers=root1)))["resolve_due_at"]
    until = (date.fromisoformat(due[:10]) + timedelta(days=2)).isoformat() + "T12:00:00+08:00"
    asked = await _ok(
        await client.post(
            f"/incidents/{number}/extension-requests",
            headers=worker,
            json={"until": until, "reason": "等配件"},
        )
    )
    place.extension_id = asked["id"]

    # A closed report rated 1 by its reporter: a work order, a confirmed flag, an appeal.
    filed = await _file_report(
        client, place, "community.road_damage", headers=reporter, photo=False
    )
    place.closed_number, place.closed_secret = number, secret = (
        filed["tracking_number"],
        filed["secret"],
    )
    for action in ({"action": "accept"}, {"action": "resolve", "note": "已修复"}):
        await _ok(await client.post(f"/incidents/{number}/actions", headers=worker, json=action))
    await _ok(
        await client.post(f"/incidents/{number}/actions", headers=root1, json={"action": "close"})
    )
    as_reporter = {} if reporter else {"secret": secret}
    rated = await _ok(
        await client.post(
            f"/reports/{number}/rating", headers=reporter, json={"overall": 1, **as_reporter}
        ),
        201,
    )
    place.rating_id, place.work_order_id = rated["rating_id"], rated["work_order"]["id"]
    flagged = await _ok(
        await client.post(
            f"/ratings/{place.rating_id}/flags", headers=root1, json={"reason": "疑似恶意"}
        ),
        201,
    )
    place.flag_id = flagged["id"]
    await _ok(
        await client.post(
            f"/rating-flags/{place.flag_id}/decision", headers=root2, json={"confirm": True}
        )
    )
    appealed = await _ok(
        await client.post(
            f"/ratings/{place.rating_id}/appeals",
            headers=reporter,
            json={"reason": "评价属实", **as_reporter},
        ),
        201,
    )
    place.appeal_id = appealed["id"]

    # A fire damage declaration, accepted by the cell's worker.
    declared = await _ok(
        await client.post(
            "/damage-declarations",
            headers=declarer,
            json={
                "house_id": place.house_id,
                "fire_date": str(date.today()),
                "what_burned": "厨房",
                "estimated_loss": "1200.00",
            },
        ),
        201,
    )
    place.declaration = declared["tracking_number"]
    await _ok(
        await client.post(
            f"/incidents/{place.declaration}/actions", headers=worker, json={"action": "accept"}
        )
    )
    return id_number


async def _inbox_item(session: AsyncSession, user_id: int) -> int:
    message = OutboxMessage(topic="test.authz", recipient_ids=[user_id], payload={})
    session.add(message)
    await session.flush()
    item = InboxItem(user_id=user_id, outbox_id=message.id, topic="test.authz", payload={})
    session.add(item)
    await session.flush()
    return item.id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world_conn(async_engine, settings) -> AsyncIterator[tuple[AsyncConnection, Any]]:
    """One connection holding the module's world in a transaction never committed."""
    async with async_engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn, matrix_app(settings, conn)
        finally:
            await outer.rollback()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(world_conn, settings) -> World:
    conn, app = world_conn
    session = AsyncSession(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    w = await make_world(session)
    district2 = await make_region(
        session, "880102", "district", "授权区", w.city, (0, 1000, 500, 1500)
    )
    street2 = await make_region(
        session, "880102001", "street", "授权街道", district2, (0, 1000, 500, 1500)
    )
    community_c = await make_region(
        session, "880102001001", "community", "丁社区", street2, (0, 1000, 500, 1500)
    )
    c1 = await make_cell(session, "880102001001001", community_c, (0, 1000, 500, 1500))
    cells = {"a1": w.cell_a1, "a2": w.cell_a2, "b1": w.cell_b1, "c1": c1}
    communities = {"a1": w.community_a, "a2": w.community_a, "b1": w.community_b, "c1": community_c}

    async def user(name: str, role: str, region: Region | None = None, phone: str | None = None):
        return await make_user(
            session, name, role, region, display_name=f"职员{name[6:]}", phone=phone
        )

    tested = {
        "resident": await user("authz-resident", "resident", phone="13500000001"),
        "grid_worker": await user("authz-worker", "grid_worker", w.community_a, "13500000002"),
        "community_manager": await user("authz-cm", "community_manager", w.community_a),
        "street_manager": await user("authz-sm", "street_manager", w.street),
        "district_manager": await user("authz-dm", "district_manager", w.district),
        "admin": await user("authz-admin", "admin"),
    }
    workers = {
        "a1": tested["grid_worker"],
        "a2": await user("authz-w-a2", "grid_worker", w.community_a),
        "b1": await user("authz-w-b1", "grid_worker", w.community_b),
        "c1": await user("authz-w-c1", "grid_worker", community_c),
    }
    for key, worker in workers.items():
        await assign(session, cells[key], worker)
    backup = await user("authz-backup", "grid_worker", w.community_a, "13500000009")
    await assign(session, w.cell_a1, backup, kind="backup")
    await user("authz-cm-b", "community_manager", w.community_b)
    await user("authz-cm-c", "community_manager", community_c)
    resident2 = await user("authz-resident2", "resident")
    root1, root2 = await user("authz-root1", "admin"), await user("authz-root2", "admin")
    await session.commit()

    h = {role: auth_headers(account, settings) for role, account in tested.items()}
    h[ANONYMOUS] = {}
    extra = {
        "backup": auth_headers(backup, settings),
        "root1": auth_headers(root1, settings),
        "root2": auth_headers(root2, settings),
    }
    places: dict[str, Place] = {}
    id_numbers = []
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        for serial, key in enumerate(("a1", "a2", "b1", "c1"), start=1):
            community = communities[key]
            region_codes = {
                "a1": (w.street, w.district),
                "a2": (w.street, w.district),
                "b1": (w.street, w.district),
                "c1": (street2, district2),
            }[key]
            lon, lat = metres_point(
                *{"a1": (250, 250), "a2": (750, 250), "b1": (1250, 250), "c1": (250, 1250)}[key]
            )
            place = places[key] = Place(
                cells[key].code,
                community.code,
                region_codes[0].code,
                region_codes[1].code,
                lon,
                lat,
            )
            own = key == "a1"
            id_numbers.append(
                await _build_place(
                    client,
                    session,
                    settings,
                    key,
                    place,
                    cells[key],
                    serial,
                    auth_headers(workers[key], settings),
                    h["resident"] if own else {},
                    h["resident"] if own else auth_headers(resident2, settings),
                    (extra["root1"], extra["root2"]),
                )
            )
        hook = await _ok(
            await client.post(
                "/admin/webhooks",
                headers=extra["root1"],
                json={"url": "https://receiver.example.org/h"},
            ),
            201,
        )
        ban = await _ok(
            await client.post(
                "/admin/bans",
                headers=extra["root1"],
                json={"network": "192.0.2.0/24", "reason": "测试"},
            ),
            201,
        )
    for role, account in tested.items():
        places["a1"].inbox[role] = await _inbox_item(session, account.id)
    other_item = await _inbox_item(session, root1.id)
    for place in places.values():
        place.other_inbox_item = other_item
        place.webhook_id, place.ban_id = hook["id"], ban["id"]
        place.version_id = w.cell_a1.version_id
    await session.commit()
    await session.close()
    personal = [
        *PERSON_NAMES.values(),
        REPORTER_NAME,
        REPORTER_PHONE,
        DESCRIPTION_PHONE,
        *id_numbers,
        *(f"1360000{n:04d}" for n in range(1, 5)),
        "13500000001",
        "13500000002",
        "13500000009",
        "职员worker",
        "职员backup",
        "职员resident",
    ]
    return World(places, h, extra, id_numbers, personal)


@pytest_asyncio.fixture(loop_scope="session")
async def client(world_conn, world) -> AsyncIterator[AsyncClient]:
    """A client of the module's app; what the test's requests change is rolled back."""
    conn, app = world_conn
    savepoint = await conn.begin_nested()
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c:
            yield c
    finally:
        if savepoint.is_active:
            await savepoint.rollback()


async def _send(client: AsyncClient, method: str, call: Call, headers: dict[str, str]):
    return await client.request(
        method,
        call.path,
        params=call.params,
        json=call.json,
        data=call.data,
        files=call.files,
        headers={**call.headers, **headers},
    )


async def _stream_status(app: FastAPI, call: Call, headers: dict[str, str]) -> int:
    """The status an event stream opens with; the client then goes away."""
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    gone = asyncio.Event()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            gone.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": call.path,
        "raw_path": call.path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
        "state": {},
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        return await asyncio.wait_for(asyncio.shield(started), 10)
    finally:
        gone.set()
        await asyncio.wait_for(task, 10)


def _verdict(expected: int | str, rule: Rule, response_status: int, body: Any) -> str | None:
    """None when the answer is what the policy expects, else what is wrong."""
    if expected == ALLOWED:
        if rule.bulk and response_status == 503 and BULK_STUB in json.dumps(body):
            return None
        if response_status >= 500 or response_status in (401, 403, 404):
            return f"an admitted caller got {response_status}"
        return None
    if expected == STANDARD:
        if response_status >= 500 or response_status in (401, 403):
            return f"an admitted caller of a standard API got {response_status}"
        return None
    if response_status != expected:
        return f"expected {expected}, got {response_status}"
    return None


# --- the matrix ----------------------------------------------------------------------------


def test_every_route_has_an_authorisation_policy():
    missing = [f"{m} {p}" for m, p in ROUTES if (m, p) not in POLICY]
    assert not missing, f"routes without a policy in tests/authz_policy.py: {missing}"


def test_every_policy_names_a_route_the_app_serves():
    stale = [f"{m} {p}" for m, p in POLICY if (m, p) not in set(ROUTES)]
    assert not stale, f"policies for routes the app no longer serves: {stale}"


@pytest.mark.parametrize(("method", "path", "role", "scope"), _cases())
async def test_the_route_answers_each_role_as_its_policy_says(
    client, world, world_conn, method, path, role, scope
):
    rule = POLICY.get((method, path))
    assert rule is not None, f"{method} {path} has no authorisation policy"
    place = world.places["a1" if scope == "in" else OUTSIDE[role]]
    call = rule.call(place, role)
    expected = rule.expect(role, scope == "in")
    if rule.stream:
        status, body = await _stream_status(world_conn[1], call, world.tokens[role]), None
    else:
        response = await _send(client, method, call, world.tokens[role])
        status = response.status_code
        body = response.json() if "json" in response.headers.get("content-type", "") else None
    problem = _verdict(expected, rule, status, body)
    assert problem is None, f"{method} {call.path} as {role} ({scope} scope): {problem}: {body}"


# --- property-level rules ------------------------------------------------------------------


async def test_the_reporters_contact_is_shown_only_to_the_assignee_and_managers_over_it(
    client, world
):
    number = world.places["a1"].open_number
    for role in ("grid_worker", "community_manager", "street_manager", "district_manager", "admin"):
        body = await _ok(await client.get(f"/incidents/{number}", headers=world.tokens[role]))
        assert body["reporter_contact"] == {"name": REPORTER_NAME, "phone": REPORTER_PHONE}, role
    # A backup worker of the cell sees the report, but not who reported it.
    seen = await client.get(f"/incidents/{number}", headers=world.extra["backup"])
    body = await _ok(seen)
    assert body["tracking_number"] == number and body["reporter_contact"] is None
    assert REPORTER_NAME not in seen.text and REPORTER_PHONE not in seen.text
    assert "authz-resident" not in seen.text  # the filing account is the reporter too


async def test_work_lists_never_carry_the_reporters_contact(client, world):
    for headers in (
        *(world.tokens[r] for r in ("grid_worker", "community_manager", "admin")),
        world.extra["backup"],
    ):
        for view in ("mine", "area") if headers is not world.extra["backup"] else ("mine",):
            listed = await client.get("/incidents", params={"view": view}, headers=headers)
            await _ok(listed)
            assert REPORTER_PHONE not in listed.text and REPORTER_NAME not in listed.text


# The places each role's lists may show: searches and work lists are scoped in SQL.
REACH = {
    "grid_worker": {"a1"},
    "community_manager": {"a1", "a2"},
    "street_manager": {"a1", "a2", "b1"},
    "district_manager": {"a1", "a2", "b1"},
    "admin": {"a1", "a2", "b1", "c1"},
}


@pytest.mark.parametrize("role", sorted(REACH))
async def test_lists_show_each_role_only_what_lies_in_its_area(client, world, role):
    headers, places = world.tokens[role], world.places
    people = await _ok(await client.get("/register/people", headers=headers))
    assert {p["id"] for p in people["people"]} == {places[k].person_id for k in REACH[role]}
    view = "mine" if role == "grid_worker" else "area"
    listed = await client.get("/incidents", params={"view": view, "limit": 200}, headers=headers)
    await _ok(listed)
    for key, place in places.items():
        assert (place.open_number in listed.text) == (key in REACH[role]), (key, view)
    asked = await _ok(await client.get("/extension-requests", headers=headers))
    assert {r["id"] for r in asked["items"]} == {places[k].extension_id for k in REACH[role]}


async def test_id_numbers_are_masked_in_every_register_answer_for_every_role(client, world):
    a1 = world.places["a1"]
    raw = world.id_numbers[0]
    reads = [
        ("/register/people", {}),
        ("/register/people", {"q": raw}),
        (f"/register/people/{a1.person_id}", {}),
        (f"/cells/{a1.cell}/residents", {}),
        (f"/cells/{a1.cell}", {}),
    ]
    for role in ("grid_worker", "community_manager", "street_manager", "district_manager", "admin"):
        for path, params in reads:
            response = await client.get(path, params=params, headers=world.tokens[role])
            await _ok(response)
            for number in world.id_numbers:
                assert number not in response.text, (role, path)
                assert number[:14] not in response.text, (role, path)
        found = await _ok(
            await client.get("/register/people", params={"q": raw}, headers=world.tokens[role])
        )
        # Matched by the number's hash, shown only by its last four characters.
        assert [p["id"] for p in found["people"]] == [a1.person_id], role
        assert json.dumps(found["people"][0], ensure_ascii=False).count(raw[-4:]) >= 1
    audit = await client.get("/admin/audit", headers=world.tokens["admin"])
    await _ok(audit)
    assert raw not in audit.text  # the search text is never kept


async def test_no_public_route_answers_with_personal_data(client, world):
    a1 = world.places["a1"]
    public_gets = [
        (m, p)
        for m, p in ROUTES
        if m == "GET"
        and (m, p) in POLICY
        and ANONYMOUS in POLICY[(m, p)].admits
        and not POLICY[(m, p)].stream
    ]
    assert len(public_gets) > 30
    checked = 0
    for method, path in public_gets:
        call = POLICY[(method, path)].call(a1, ANONYMOUS)
        for headers in ({}, world.tokens["resident"]):
            response = await _send(client, method, call, headers)
            text = response.content.decode("utf-8", "replace")
            leaked = [value for value in world.personal if value in text]
            assert not leaked, f"GET {call.path} shows {leaked}"
            checked += 1
    # The reporter's own report and rating carry no one's contact either.
    for call in (Call(f"/reports/{a1.open_number}"), Call(f"/reports/{a1.closed_number}/rating")):
        response = await _send(client, "GET", call, world.tokens["resident"])
        await _ok(response)
        assert not [value for value in world.personal if value in response.text], call.path
    assert checked == 2 * len(public_gets)


async def test_public_and_staff_callers_get_different_response_models(client, world):
    a1 = world.places["a1"]
    for role in (ANONYMOUS, "resident"):
        cell = await _ok(await client.get(f"/cells/{a1.cell}", headers=world.tokens[role]))
        assert cell["properties"]["counts"] == {"buildings": 1}
        spot = await _ok(
            await client.get(
                "/lookup", params={"lon": a1.lon, "lat": a1.lat}, headers=world.tokens[role]
            )
        )
        assert spot["responsible"] == {"level": "primary"}
    for role in ("grid_worker", "community_manager", "admin"):
        cell = await _ok(await client.get(f"/cells/{a1.cell}", headers=world.tokens[role]))
        assert cell["properties"]["counts"]["people"] == 1
        spot = await _ok(
            await client.get(
                "/lookup", params={"lon": a1.lon, "lat": a1.lat}, headers=world.tokens[role]
            )
        )
        assert spot["responsible"] == {
            "username": "authz-worker",
            "display_name": "职员worker",
            "phone": "13500000002",
            "level": "primary",
        }


# Routes that hand over data about many people at once, as files or logs (not one page
# of a search within the caller's area, which staff may run).
BULK_PERSONAL_EXPORTS = [
    ("POST", "/admin/hotline/exports"),  # 12345 results: each caller's order and rating
    ("POST", "/admin/hotline/imports"),  # the callers' orders, filed, with a full report
    ("POST", "/admin/imports/people"),  # the population register, with a full report
    ("GET", "/admin/audit"),  # who read whose record, from where
]


def test_bulk_exports_of_personal_data_admit_admins_only():
    for key in BULK_PERSONAL_EXPORTS:
        assert key in POLICY and POLICY[key].admits == frozenset({"admin"}), key
    # Any route that exports in bulk is named above (and so admits admins only).
    exporting = [key for key in ROUTES if "export" in key[1] or key[1].startswith("/admin/")]
    for key in exporting:
        assert POLICY[key].admits == frozenset({"admin"}), key


@pytest.mark.parametrize(
    "role", ["resident", "grid_worker", "community_manager", "street_manager", "district_manager"]
)
async def test_non_admins_are_refused_every_bulk_export(client, world, role):
    for method, path in BULK_PERSONAL_EXPORTS:
        call = POLICY[(method, path)].call(world.places["a1"], role)
        response = await _send(client, method, call, world.tokens[role])
        assert response.status_code == 403, (method, path, role)
        assert REPORTER_PHONE not in response.text
