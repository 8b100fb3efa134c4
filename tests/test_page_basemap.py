"""gg.mapgl.make draws gridgov's base map from /maps/style.json in headless Chromium: road
names are rendered (the road-label layer has features), and no request leaves the server."""

from __future__ import annotations

import pytest

from tests.factories import metres_point
from tests.pages_support import needs_chromium

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]


async def test_make_draws_the_base_map_with_road_names_from_gridgov_only(
    page, server, basemap_rows
):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.set_viewport_size({"width": 390, "height": 700})
    await page.goto("/worker")  # a page that loads MapLibre and mapgl.js
    west, south = metres_point(0, 0)
    east, north = metres_point(1500, 500)
    rendered = await page.evaluate(
        """([w, s, e, n]) => new Promise((resolve, reject) => {
            const box = document.createElement("div");
            box.id = "basemap-test";
            box.style.cssText = "position:fixed;inset:0;width:390px;height:700px;z-index:99";
            document.body.appendChild(box);
            const map = gg.mapgl.make("basemap-test", {bounds: [w, s, e, n]});
            map.on("error", (ev) => reject(String(ev.error && ev.error.message)));
            map.once("idle", () => resolve({
                zoom: map.getZoom(),
                roads: map.queryRenderedFeatures({layers: [gg.mapgl.roadLabelsLayer]})
                    .map((f) => f.properties.name),
                layers: map.getStyle().layers.map((l) => l.id),
            }));
        })""",
        [west, south, east, north],
    )
    assert rendered["zoom"] > 14
    assert {"中山大道", "东风路2巷"} <= set(rendered["roads"]), rendered
    assert rendered["layers"][0] == "background" and "region-label" in rendered["layers"]
    assert any("/maps/style.json" in url for url in requests)
    assert any("/tiles/basemap/" in url for url in requests)
    assert any("/maps/fonts/" in url for url in requests)  # digits, Latin: gridgov's glyphs
    assert all(url.startswith(server) or url.startswith(("blob:", "data:")) for url in requests), [
        url for url in requests if not url.startswith(server)
    ]
