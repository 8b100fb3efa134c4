"""The access log never keeps tokens, ID numbers or mobile numbers from request lines."""

from __future__ import annotations

import logging

from api.logs import MaskPersonalData, mask_personal_data


def test_request_lines_lose_tokens_api_keys_id_numbers_and_phones():
    line = (
        "GET /register/people?q=11010519491231002X&x=1 /inbox/stream?access_token=abc.def "
        "/register/people?q=13912345678 /cells/880101001001001 "
        "/open311/v2/requests.json?api_key=k3y-secret&page=2 HTTP/1.1"
    )
    masked = mask_personal_data(line)
    for secret in ("11010519491231002X", "abc.def", "13912345678", "k3y-secret"):
        assert secret not in masked
    assert "880101001001001" in masked  # a 15-digit cell code is not personal


def test_the_filter_rewrites_uvicorns_access_record_arguments():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/register/people?q=110105194912310021", "1.1", 200),
        None,
    )
    MaskPersonalData().filter(record)
    assert "110105194912310021" not in record.getMessage()
