"""Choosing the response language from Accept-Language (zh-Hans first, English too)."""

from __future__ import annotations

from starlette.requests import Request

SUPPORTED = ("zh-Hans", "en")


def negotiate_language(request: Request, default: str = "zh-Hans") -> str:
    """'en' when the client prefers English over Chinese, else 'zh-Hans'."""
    header = request.headers.get("accept-language", "")
    best, best_q = None, -1.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = "en" if tag.startswith("en") else "zh-Hans" if tag.startswith("zh") else None
        if lang and q > best_q:
            best, best_q = lang, q
    return best or default
