"""Binary COPY from numpy columns: values, NULLs, non-ASCII text and chunking survive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from gis import pgcopy
from gis.pgcopy import CopyField, copy_binary, text_codec


def test_binary_copy_round_trips_values_nulls_and_chinese_text(conn, monkeypatch):
    monkeypatch.setattr(pgcopy, "_COPY_CHUNK_ROWS", 2)  # several chunks for five rows
    conn.execute(
        text(
            "CREATE TEMP TABLE t (i int, s smallint, name text, g geometry(Point, "
            "4326)) ON COMMIT DROP"
        )
    )
    raw = conn.connection.dbapi_connection
    names = pd.Series(["甲", None, "", "先烈路165号", "x" * 300], dtype=object)
    points = shapely.points([[114.0, 22.0], [114.1, 22.1], [0, 0], [1, 1], [2, 2]])
    wkb = shapely.to_wkb(points).astype(object)
    wkb[2] = None
    copy_binary(
        raw,
        "COPY t FROM STDIN WITH (FORMAT binary)",
        [
            CopyField.integers(np.arange(5), np.array([True, True, False, True, True])),
            CopyField.integers(np.array([1, -2, 3, 4, 5]), width=2),
            CopyField.text(names, text_codec(raw)),
            CopyField.blobs(list(wkb)),
        ],
    )
    rows = conn.execute(text("SELECT i, s, name, ST_AsText(g) FROM t ORDER BY s")).all()
    assert rows == [
        (1, -2, None, "POINT(114.1 22.1)"),
        (0, 1, "甲", "POINT(114 22)"),
        (None, 3, "", None),
        (3, 4, "先烈路165号", "POINT(1 1)"),
        (4, 5, "x" * 300, "POINT(2 2)"),
    ]
