"""The access log keeps no names and no phone or ID numbers in any written form
(issue 15, item 13): a request whose query holds each form is logged through uvicorn's
access logger with the mask installed, and the line keeps none of them."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

from api.logs import mask_access_log

PHONE = "13812345678"
ID_NUMBER = "44010619900307123X"
FORMS = {
    "name": ("张三", "张三"),
    "spaced_phone": ("138 1234 5678", PHONE),
    "dashed_phone": ("138-1234-5678", PHONE),
    "plus86_phone": ("+86 138 1234 5678", PHONE),
    "plus86_dashed": ("+86-138-1234-5678", PHONE),
    "dotted_phone": ("138.1234.5678", PHONE),
    "landline": ("020-8765-4321", "02087654321"),
    "spaced_id": ("440106 19900307 123X", ID_NUMBER),
    "dashed_id": ("440106-19900307-123X", ID_NUMBER),
    "card": ("6222 0212 3456 7890 123", "6222021234567890123"),
    "email": ("zhang.san@example.com", "zhang.san@example.com"),
}


@pytest.fixture
def access_lines():
    """What uvicorn's access logger writes, with the mask installed as serve installs it."""
    logger = logging.getLogger("uvicorn.access")
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    mask_access_log()
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _log_request(path: str) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5123", "GET", path, "1.1", 200
    )


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c in "Xx")


@pytest.mark.parametrize("encode", ["plus", "percent"], ids=["form-encoded", "percent-encoded"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_form_in_a_query_leaves_the_access_log_masked(access_lines, form, encode):
    written, secret = FORMS[form]
    quoting = {"plus": {}, "percent": {"quote_via": quote}}[encode]
    path = "/register/people?" + urlencode({"q": written, "limit": "20"}, **quoting)
    _log_request(path)
    (line,) = access_lines
    logged_path = line.split('"')[1].split(" ")[1]
    values = dict(parse_qsl(urlsplit(logged_path).query))
    assert values["limit"] == "20"  # the rest of the request line stays readable
    assert written not in values["q"]
    if secret.isascii() and "@" not in secret:
        assert secret not in _digits(values["q"]), values["q"]
    else:
        assert secret not in values["q"]
    assert values["q"] != written


def test_all_forms_in_one_request_line_and_the_kind_of_each_mask(access_lines):
    path = "/reports?" + urlencode({k: v for k, (v, _) in FORMS.items()})
    _log_request(path)
    (line,) = access_lines
    for written, _secret in FORMS.values():
        assert written not in line
        assert quote(written) not in line
    assert _digits(PHONE) not in _digits(line)
    assert "<phone>" in line and "<id-number>" in line and "<text>" in line
