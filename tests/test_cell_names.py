"""Cell names: an admin renames the cell in force (audited, drafts untouched), everyone
else is refused, bad names are a 422 naming `name`; the cell import takes a name column
through its mapping and holds names to the same rule."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box
from sqlalchemy import text

from grid.cell_names import name_problem
from grid.importing.cells import import_cells
from grid.importing.reading import FieldMapping
from tests.factories import (
    ORIGIN,
    TEST_CRS,
    auth_headers,
    make_cell,
    make_user,
    make_version,
    make_world,
)

NEW_NAME = "翠竹社区东区网格"
X0, Y0 = ORIGIN


@pytest.fixture
async def world(db):
    """The small test city (three cells in force)."""
    return await make_world(db)


@pytest.fixture
async def admin_headers(db, settings):
    """A bearer header for an administrator."""
    return auth_headers(await make_user(db, "names-admin", "admin"), settings)


async def _audit(db, code: str) -> list[dict]:
    rows = await db.execute(
        text(
            "SELECT action, actor_name, actor_role, detail FROM audit_log "
            "WHERE subject_type = 'grid_cell' AND subject_id = :code ORDER BY id"
        ),
        {"code": code},
    )
    return [dict(r._mapping) for r in rows]


async def test_an_admin_renames_the_cell_in_force_and_the_audit_log_keeps_both_names(
    client, db, world, admin_headers
):
    code = world.cell_a1.code
    response = await client.patch(
        f"/cells/{code}", json={"name": f"  {NEW_NAME} "}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"code": code, "name": NEW_NAME, "previous_name": "网格001"}
    shown = await client.get(f"/cells/{code}")
    assert shown.json()["properties"]["name"] == NEW_NAME
    listed = await client.get("/cells")
    names = {f["properties"]["code"]: f["properties"]["name"] for f in listed.json()["features"]}
    assert names[code] == NEW_NAME and names[world.cell_a2.code] == "网格002"
    (entry,) = await _audit(db, code)
    assert (entry["action"], entry["actor_name"], entry["actor_role"]) == (
        "state_change",
        "names-admin",
        "admin",
    )
    assert entry["detail"] | {"cell_id": 0} == {
        "change": "rename",
        "cell_id": 0,
        "previous_name": "网格001",
        "name": NEW_NAME,
    }


async def test_renaming_to_the_same_name_changes_nothing_and_audits_nothing(
    client, db, world, admin_headers
):
    code = world.cell_a1.code
    response = await client.patch(f"/cells/{code}", json={"name": "网格001"}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert await _audit(db, code) == []


async def test_a_draft_cell_with_the_same_code_keeps_its_own_name(client, db, world, admin_headers):
    draft = await make_cell(
        db,
        world.cell_a1.code,
        world.community_a,
        (0, 0, 500, 500),
        await make_version(db, status="draft"),
    )
    response = await client.patch(
        f"/cells/{world.cell_a1.code}", json={"name": NEW_NAME}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    names = dict(
        (
            await db.execute(
                text("SELECT id, name FROM grid_cells WHERE code = :code"),
                {"code": world.cell_a1.code},
            )
        ).all()
    )
    assert names == {world.cell_a1.id: NEW_NAME, draft.id: "网格001"}


async def test_an_unknown_code_is_a_404(client, world, admin_headers):
    response = await client.patch(
        "/cells/880101001009999", json={"name": NEW_NAME}, headers=admin_headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "网" * 101},
        {"name": "网格\n二"},
        {"name": "网格\u202e二"},
        {"name": "网格\u200b"},
        {"name": 7},
        {},
        {"name": None},
    ],
)
async def test_a_bad_name_is_a_422_naming_name_and_changes_nothing(
    client, db, world, admin_headers, body
):
    code = world.cell_a1.code
    response = await client.patch(f"/cells/{code}", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["name"]
    name = (
        await db.execute(text("SELECT name FROM grid_cells WHERE code = :c"), {"c": code})
    ).scalar_one()
    assert name == "网格001" and await _audit(db, code) == []


async def test_a_name_of_exactly_100_characters_is_taken(client, world, admin_headers):
    response = await client.patch(
        f"/cells/{world.cell_a1.code}", json={"name": "网" * 100}, headers=admin_headers
    )
    assert response.status_code == 200 and response.json()["name"] == "网" * 100


@pytest.mark.parametrize("role", ["community_manager", "grid_worker", "resident"])
async def test_only_admins_rename(client, db, world, settings, role):
    user = await make_user(db, f"names-{role}", role, world.community_a)
    response = await client.patch(
        f"/cells/{world.cell_a1.code}",
        json={"name": NEW_NAME},
        headers=auth_headers(user, settings),
    )
    assert response.status_code == 403
    anonymous = await client.patch(f"/cells/{world.cell_a1.code}", json={"name": NEW_NAME})
    assert anonymous.status_code == 401


# --- the cell import -----------------------------------------------------------------


def _cells_with_names(tmp_path, names: list) -> object:
    """Cells of 甲社区 in the sync test city, a 网格名称 column holding `names`."""
    codes = [f"880101001001{n:03d}" for n in range(11, 11 + len(names))]
    frame = gpd.GeoDataFrame(
        {"编码": codes, "网格名称": names},
        geometry=[box(X0 + 100 * i, Y0, X0 + 100 * (i + 1), Y0 + 100) for i in range(len(names))],
        crs=TEST_CRS,
    )
    path = tmp_path / "cells.gpkg"
    frame.to_file(path)
    return path


def test_the_cell_import_takes_names_from_the_mapped_column(conn, tmp_path):
    path = _cells_with_names(tmp_path, ["甲社区第1网格", None, "  "])
    mapping = FieldMapping(columns={"code": "编码", "name": "网格名称"})
    report, version_id = import_cells(conn, path, label="names", mapping=mapping)
    assert report.rejected == []
    names = conn.execute(
        text("SELECT code, name FROM grid_cells WHERE version_id = :v ORDER BY code"),
        {"v": version_id},
    ).all()
    assert names == [
        ("880101001001011", "甲社区第1网格"),
        ("880101001001012", "网格012"),
        ("880101001001013", "网格013"),
    ]


def test_the_cell_import_rejects_names_an_admin_could_not_give(conn, tmp_path):
    path = _cells_with_names(tmp_path, ["好名字", "网" * 101, "坏\x07名字"])
    mapping = FieldMapping(columns={"code": "编码", "name": "网格名称"})
    report, _ = import_cells(conn, path, label="names", mapping=mapping)
    assert [(i.row, i.field) for i in report.rejected] == [(2, "name"), (3, "name")]
    assert report.inserted == 1


def test_the_name_rule():
    assert name_problem("翠竹社区第1网格") is None
    assert name_problem("Block A (东)") is None
    assert name_problem("") and name_problem("x" * 101) and name_problem("a\tb")
