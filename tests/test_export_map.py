"""`gridgov export map`: one HTML file (folium/Leaflet) of an area's cells or public
hazards that opens offline: nothing to fetch, the features embedded, no personal data."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from click.testing import CliRunner

import cli.main
from core.settings import get_settings
from maps.offline_map import area_map
from tests.factories import make_world, metres_point


class _Fetches(HTMLParser):
    """Every URL the page would fetch by itself: script src, link href, img/iframe src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "embed") and values.get("src"):
            self.urls.append(values["src"])
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"])
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1


def _assert_opens_offline(html: str) -> None:
    fetches = _Fetches()
    fetches.feed(html)
    assert fetches.urls == []
    assert 'src="http' not in html
    assert not re.search(r"<link[^>]+href=\"http", html)
    # Stylesheets fetch nothing either (Leaflet's images are data URIs).
    assert not re.search(r"url\(\s*['\"]?(https?:|images/)", html)
    assert "cdn.jsdelivr" not in html and "code.jquery" not in html
    # Leaflet itself is in the file.
    assert "leaflet" in html.lower() and "L.map(" in html
    assert fetches.inline_scripts >= 2


async def test_coverage_map_embeds_the_cells_with_counts_only(db):
    world = await make_world(db)
    html, shown = await area_map(db, "880101001001", "coverage", datetime.now(UTC))
    assert shown == 2  # 甲社区's two cells, not 乙社区's
    _assert_opens_offline(html)
    assert world.cell_a1.code in html and world.cell_a2.code in html
    assert world.cell_b1.code not in html
    assert '"FeatureCollection"' in html and '"open"' in html
    # Counts, not the figures the managers' map has besides (or anything personal).
    assert '"satisfaction"' not in html and '"visited"' not in html


async def test_incidents_map_shows_open_hazards_at_their_public_place_only(db, client):
    await make_world(db)
    lon, lat = metres_point(250, 250)
    filed = await client.post(
        "/reports",
        json={
            "category": "fire.blocked_exit",
            "lon": lon,
            "lat": lat,
            "description": "楼道堆物 call 13800138000",
            "contact_name": "王小明",
            "contact_phone": "13800138000",
        },
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["tracking_number"]
    html, shown = await area_map(db, "880101", "incidents", datetime.now(UTC))
    assert shown == 1
    _assert_opens_offline(html)
    assert "fire.blocked_exit" in html and '"Point"' in html
    for private in (number, "13800138000", "王小明", "楼道堆物"):
        assert private not in html


def test_cli_writes_nothing_for_an_unknown_region(settings, migrated_db, monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    out = tmp_path / "map.html"
    try:
        result = CliRunner().invoke(
            cli.main.main, ["export", "map", "--region", "999999", "--out", str(out)]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "region: no region 999999" in result.output
    assert not out.exists()


def test_cli_refuses_an_unknown_layer(tmp_path):
    result = CliRunner().invoke(
        cli.main.main,
        ["export", "map", "--region", "880101", "--layer", "people", "--out", str(tmp_path / "m")],
    )
    assert result.exit_code == 2 and "--layer" in result.output
