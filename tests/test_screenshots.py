"""`gridgov screenshots`' module: every page photographed in headless chromium against
the test server, the staff pages signed in through their own forms."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image

from demo.screenshots import Account, ShotPlan, find_tracking_number, take_screenshots
from tests.factories import PASSWORD
from tests.pages_support import needs_chromium

pytestmark = pytest.mark.asyncio(loop_scope="session")

SIZE = (640, 480)
MOBILE = (360, 640)
# A blank or one-colour page has a handful; a drawn map and text have many more.
MIN_COLOURS = 20


def _plan(server, tmp_path, manager: str, **changes) -> ShotPlan:
    return ShotPlan(
        base_url=server,
        out_dir=tmp_path,
        manager=Account(manager, PASSWORD),
        worker=Account("pages-w", PASSWORD),
        languages=("en",),
        size=SIZE,
        mobile_size=MOBILE,
        **changes,
    )


@needs_chromium
async def test_every_page_is_photographed_drawn_at_the_requested_size_and_signed_in(
    browser, server, tmp_path, open_incident, community_manager, patrol_building
):
    lines: list[str] = []
    shots = await take_screenshots(
        _plan(server, tmp_path, community_manager), lines.append, browser=browser
    )

    by_name = {shot.name: shot for shot in shots}
    assert list(by_name) == ["map", "report", "report-mobile", "track", "dashboard", "worker"]
    assert len(lines) == len(shots)  # one progress line per screenshot
    for shot in shots:
        assert shot.problems == [], shot.name
        assert shot.path == tmp_path / f"{shot.name}-en.png"
        with Image.open(shot.path) as image:
            image.verify()  # a well-formed PNG
        with Image.open(shot.path) as image:
            assert image.format == "PNG"
            assert image.size == (MOBILE if shot.name == "report-mobile" else SIZE)
            colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert len(colours) > MIN_COLOURS, shot.name
        assert shot.png_bytes == shot.path.stat().st_size
    assert by_name["map"].markers >= 1  # the open report
    for name in ("report", "report-mobile", "dashboard", "worker"):
        assert by_name[name].shapes > 0, name  # each map drew its cells
    # The staff maps are hidden until signed in: drawn shapes mean the signed-in view.
    assert by_name["dashboard"].signed_in_as == community_manager
    assert by_name["worker"].signed_in_as == "pages-w"
    assert by_name["worker"].markers >= 2  # the worker's report and patrol building
    assert by_name["map"].signed_in_as is None


@needs_chromium
async def test_the_tracked_report_is_found_through_the_managers_work_list(
    server, open_incident, community_manager
):
    found = await find_tracking_number(server, Account(community_manager, PASSWORD))
    assert found == open_incident
    assert await find_tracking_number(server, Account(community_manager, "wrong-pass-1")) is None


@needs_chromium
async def test_a_refused_sign_in_is_reported_and_the_form_still_photographed(
    browser, server, tmp_path, open_incident, community_manager
):
    plan = replace(
        _plan(server, tmp_path, community_manager, pages=("dashboard",)),
        manager=Account(community_manager, "wrong-pass-1"),
    )

    [shot] = await take_screenshots(plan, lambda _line: None, browser=browser)

    assert shot.signed_in_as is None
    assert any("refused" in p for p in shot.problems)
    assert any("sign-in form is still shown" in p for p in shot.problems)
    assert shot.path is not None and shot.path.exists()
