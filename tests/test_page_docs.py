"""The API documentation pages (/docs: Swagger UI, /redoc: Redoc) in headless Chromium
against a real server: they draw the API from the npm packages with every request to
this server, no content-policy error, the page language set, and no serious or critical
axe-core finding (Swagger UI's own shortfalls are corrected by docs.css and docs.js)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.pages_support import needs_chromium, serious_violations

pytestmark = [pytest.mark.asyncio(loop_scope="session"), needs_chromium]


def _record_requests(page) -> list[str]:
    """Every URL the page asks for, from the first request on."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def _only_this_server(urls: list[str], server: str) -> None:
    here = urlsplit(server).netloc
    # data: and blob: URLs never leave the browser.
    elsewhere = [
        u for u in urls if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != here
    ]
    assert urls and elsewhere == []
    assert here.startswith("127.0.0.1:")


async def test_swagger_ui_shows_the_operations_loaded_from_this_server_only(page, server):
    urls = _record_requests(page)
    response = await page.goto("/docs")
    assert response.status == 200
    report = page.locator(".opblock-post:has(.opblock-summary-path[data-path='/reports'])")
    await report.first.wait_for(state="visible", timeout=15000)
    await page.wait_for_load_state("networkidle")
    assert await page.get_attribute("html", "lang") == "zh-Hans"
    assert await page.title() == "API 文档（可试用） · 网格化社会治理"
    assert "/openapi.json" in {urlsplit(u).path for u in urls}
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in {urlsplit(u).path for u in urls}
    _only_this_server(urls, server)
    assert await serious_violations(page) == []
    # The page fixture fails the test on any console error (a CSP violation is one).


async def test_swagger_ui_try_it_out_and_authorize_pass_axe(page):
    await page.goto("/docs?lang=en")
    report = page.locator(".opblock-post:has(.opblock-summary-path[data-path='/reports'])")
    await report.first.locator(".opblock-summary-control").click(timeout=15000)
    await report.first.locator(".try-out__btn").click()
    await report.first.locator("textarea.body-param__text").wait_for(state="visible")
    assert await page.get_attribute("html", "lang") == "en"
    # Swagger UI's own colours and two nameless controls are corrected by docs.css and
    # docs.js; its deep links (nested in buttons) are turned off.
    assert await serious_violations(page) == []
    await page.locator(".authorize").first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    await dialog.wait_for(state="visible")
    # The password flow posts to /auth/token itself: no OAuth2 redirect involved.
    assert "/auth/token" in await dialog.inner_text()
    assert await serious_violations(page) == []


async def test_redoc_renders_the_reference_from_this_server_only(page, server):
    urls = _record_requests(page)
    response = await page.goto("/redoc?lang=en")
    assert response.status == 200
    await page.locator("body[data-ready='true']").wait_for(state="attached", timeout=20000)
    await page.locator("#docs-ui .api-content h1", has_text="gridgov").wait_for()
    await page.locator("#docs-ui [role=menuitem] >> text=Create Report").first.wait_for(
        state="attached"
    )
    await page.wait_for_load_state("networkidle")
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.title() == "API reference · Grid governance"
    _only_this_server(urls, server)
    # Redocly's logo (from their CDN) is never asked for: the image has no source.
    logo = page.locator("img.docs-dropped-logo")
    assert await logo.count() == 1 and await logo.get_attribute("src") is None
    assert await serious_violations(page) == []


async def test_the_oauth2_redirect_page_loads_swagger_uis_own_script(server):
    async with httpx.AsyncClient(base_url=server, trust_env=False) as http:
        page = await http.get("/docs/oauth2-redirect")
        script = await http.get("/static/vendor/swagger-ui-dist/oauth2-redirect.js")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert 'src="/static/vendor/swagger-ui-dist/oauth2-redirect.js"' in page.text
    assert script.status_code == 200 and "swaggerUIRedirectOauth2" in script.text
    assert "script-src 'self';" in page.headers["content-security-policy"]


async def test_only_redoc_may_start_a_blob_worker_and_no_page_allows_inline_scripts(server):
    async with httpx.AsyncClient(base_url=server, trust_env=False) as http:
        policies = {
            path: (await http.get(path)).headers["content-security-policy"]
            for path in ("/docs", "/redoc", "/map")
        }
    for policy in policies.values():
        assert "script-src 'self';" in policy
        assert (
            "unsafe-eval" not in policy
            and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        )
    # Redoc's search index runs in a worker made from a blob: URL; nothing else needs it.
    assert policies["/redoc"] == policies["/map"] + "; worker-src 'self' blob:"
    assert policies["/docs"] == policies["/map"]
