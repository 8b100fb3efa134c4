"""The OGC first page stays cheap on a large table: numberMatched is exact up to
interop.ogc.collections.COUNT_LIMIT matches and left out beyond it (never an estimate), and collection
extents are computed once per TTL per app, not on every request."""

from __future__ import annotations

import pytest

import api.routes.ogc as ogc_routes
import interop.ogc.collections
from tests.factories import make_cell, make_world

WORLD_CELLS = 3
WORLD_REGIONS = 5


@pytest.fixture
async def world(db):
    return await make_world(db)


async def _first_page(client, collection: str, **params) -> dict:
    response = await client.get(f"/ogc/collections/{collection}/items", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_number_matched_is_exact_up_to_the_limit_and_left_out_beyond(
    client, world, monkeypatch
):
    monkeypatch.setattr(interop.ogc.collections, "COUNT_LIMIT", WORLD_CELLS)
    at_limit = await _first_page(client, "cells")
    assert at_limit["numberMatched"] == at_limit["numberReturned"] == WORLD_CELLS
    over = await _first_page(client, "regions", limit="2")
    assert "numberMatched" not in over  # 5 regions > 3: not counted to the end
    assert over["numberReturned"] == 2
    assert any(link["rel"] == "next" for link in over["links"])  # paging is unaffected
    # A filter that leaves few matches is counted exactly again.
    filtered = await _first_page(client, "regions", bbox="0,0,0.0001,0.0001")
    assert filtered["numberMatched"] == filtered["numberReturned"] == 0


async def test_number_matched_is_exact_below_the_default_limit(client, world):
    assert interop.ogc.collections.COUNT_LIMIT >= 10_000
    body = await _first_page(client, "regions", limit="1")
    assert body["numberMatched"] == WORLD_REGIONS and body["numberReturned"] == 1


async def test_collection_extents_are_computed_once_per_ttl(client, db, world, monkeypatch):
    computed = []
    real_extent = ogc_routes.extent

    async def counting(session, collection):
        computed.append(collection.id)
        return await real_extent(session, collection)

    monkeypatch.setattr(ogc_routes, "extent", counting)
    first = (await client.get("/ogc/collections")).json()
    cells_before = next(c for c in first["collections"] if c["id"] == "cells")
    assert sorted(computed) == sorted(interop.ogc.collections.COLLECTIONS)
    # A cell far to the east: within the TTL the cached extent is served as it was.
    await make_cell(db, "880101001001077", world.community_a, (5000, 0, 5500, 500))
    again = (await client.get("/ogc/collections")).json()
    one = (await client.get("/ogc/collections/cells")).json()
    assert len(computed) == len(interop.ogc.collections.COLLECTIONS)  # nothing recomputed
    cells_again = next(c for c in again["collections"] if c["id"] == "cells")
    assert cells_again["extent"] == cells_before["extent"] == one["extent"]
    # Once the TTL has passed, the extent is recomputed and takes the new cell in.
    monkeypatch.setattr(ogc_routes, "EXTENT_TTL_SECONDS", 0.0)
    fresh = (await client.get("/ogc/collections/cells")).json()
    assert computed.count("cells") == 2
    east_before = cells_before["extent"]["spatial"]["bbox"][0][2]
    assert fresh["extent"]["spatial"]["bbox"][0][2] > east_before
