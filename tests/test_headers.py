"""Security headers are on every response, and the content policy admits only this
server (and the base map's tile host when one is set)."""

from __future__ import annotations

from api.headers import security_headers


async def test_every_response_carries_the_security_headers(client):
    for url in ("/health", "/reports/261124-ZZZZZZZZ", "/map"):
        response = await client.get(url)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "access-control-allow-origin" not in response.headers


def test_the_content_policy_admits_the_basemap_host_only_when_set():
    assert (
        "tiles.example.cn" not in dict(security_headers(None))[b"content-security-policy"].decode()
    )
    policy = dict(security_headers("https://tiles.example.cn/{z}/{x}/{y}.png"))[
        b"content-security-policy"
    ].decode()
    assert "img-src 'self' data: blob: https://tiles.example.cn;" in policy
