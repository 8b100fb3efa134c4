"""The tiles bench's servers: gridgov with its tile cache off and on, tipg as it comes
and behind the same kind of cache (tipg's virtualenv made on first use), and the URLs
each is asked for a layer's tile."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.common import (
    ROOT,
    Clock,
    free_port,
    gridgov_command,
    start_server,
    stop_server,
    uvicorn_command,
)
from bench.tiles_data import gridgov_env

CACHES = ("off", "on")
# Outside the repository: a virtualenv there would be swept into the checkout's tools
# (ruff, pytest collection, git status) and its pins clash with ours.
TIPG_VENV = Path(
    os.environ.get("GRIDGOV_TIPG_VENV") or Path.home() / ".cache" / "gridgov-bench" / "tipg-venv"
)
TIPG_REQUIREMENT = "tipg>=1.0,<2"
# Shown on the map: the rule of maps/tiles.py, as a CQL2 filter for tipg (its timestamp is
# the same cut-off: the China midnight RECENTLY_CLOSED_DAYS days before today).
TIPG_INCIDENT_FILTER = (
    "status NOT IN ('rejected','duplicate') AND "
    "(closed_at IS NULL OR closed_at >= TIMESTAMP('{since}'))"
)
TIPG_CELL_FILTER = "active_from IS NOT NULL AND active_to IS NULL"


# ---------------------------------------------------------------------------- servers


def ensure_tipg(say: Clock) -> Path:
    """tipg in its own virtualenv outside the repository (its pins may clash with ours),
    made on first use."""
    if TIPG_VENV.resolve().is_relative_to(ROOT):
        raise SystemExit(
            f"GRIDGOV_TIPG_VENV {TIPG_VENV} is inside the repository: "
            "put tipg's virtualenv outside it (the default is under ~/.cache)"
        )
    python = TIPG_VENV / "bin" / "python"
    if not python.exists():
        say(f"creating {TIPG_VENV} and installing {TIPG_REQUIREMENT} from PyPI")
        TIPG_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import tipg, uvicorn"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", TIPG_REQUIREMENT, "uvicorn"],
            check=True,
            stdout=sys.stderr,
        )
    version = subprocess.run(
        [str(python), "-c", "import tipg; print(tipg.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    say(f"tipg {version} in {TIPG_VENV}")
    return python


def tipg_env(args: argparse.Namespace) -> dict[str, str]:
    """tipg sees only the bench tables, with our tile buffer and no feature cap below
    what a tile holds (its default cap of 10,000 would cut dense tiles short); with its
    cache on, the same TTLs as gridgov's tile cache for the same layers."""
    from api.routes.tiles import CACHE_TTL

    url = make_url(args.database_url)
    return {
        "TIPG_BENCH_CACHE_TTL": json.dumps(
            {"public.incidents": CACHE_TTL["incidents"], "*": CACHE_TTL["cells"]}
        ),
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
        "TIPG_DB_SCHEMAS": '["public", "basemap"]',
        "TIPG_DB_TABLES": '["public.incidents", "public.grid_cells", "public.buildings", '
        '"basemap.roads", "basemap.water", "basemap.green", "basemap.compounds", '
        '"basemap.places"]',
        "TIPG_DB_SPATIAL_EXTENT": "false",
        "TIPG_DB_DATETIME_EXTENT": "false",
        "TIPG_TILE_BUFFER": "64",
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
        "TIPG_DB_MAX_CONN_SIZE": "10",
    }


def _start(name: str, command: list[str], env: dict[str, str], health: str, say: Clock):
    """Start one server and wait (up to 90 s) until `health` answers."""
    say(f"starting {name}")
    server = start_server(
        command, env, health, name=name, within_s=90, poll_s=0.3, request_timeout_s=2
    )
    say(f"{name} is up")
    return server


def stop_named(name: str, server: subprocess.Popen, say: Clock) -> None:
    """Stop one server started by start."""
    stop_server(server)
    say(f"{name} stopped")


def start_servers(
    args: argparse.Namespace, tipg_python: Path, say: Clock
) -> dict[tuple[str, str], tuple[subprocess.Popen, int]]:
    """Four servers, (name, cache) -> (process, port): gridgov and tipg each with the
    cache off and on; uvicorn with --workers each, access log off, on 127.0.0.1."""
    workers = ("--workers", str(args.workers))
    port = {(name, cache): free_port() for name in ("gridgov", "tipg") for cache in CACHES}
    specs = {
        ("gridgov", "off"): (
            uvicorn_command(
                port[("gridgov", "off")], "bench.gridgov_uncached:create_app", "--factory", *workers
            ),
            gridgov_env(args),
            "/health",
        ),
        ("gridgov", "on"): (
            gridgov_command(port[("gridgov", "on")], *workers),
            gridgov_env(args),
            "/health",
        ),
        ("tipg", "off"): (
            uvicorn_command(port[("tipg", "off")], "tipg.main:app", *workers, python=tipg_python),
            tipg_env(args),
            "/collections",
        ),
        ("tipg", "on"): (
            uvicorn_command(
                port[("tipg", "on")],
                "tipg_cache:app",
                "--app-dir",
                str(ROOT / "bench"),
                *workers,
                python=tipg_python,
            ),
            tipg_env(args),
            "/collections",
        ),
    }
    started: dict[tuple[str, str], tuple[subprocess.Popen, int]] = {}
    try:
        for (name, cache), (command, env, health) in specs.items():
            server = _start(
                f"{name} (cache {cache})",
                command,
                env,
                f"http://127.0.0.1:{port[(name, cache)]}{health}",
                say,
            )
            started[(name, cache)] = (server, port[(name, cache)])
    except BaseException:
        for (name, cache), (server, _port) in started.items():
            stop_named(f"{name} (cache {cache})", server, say)
        raise
    return started


def basemap_tipg_queries(z: int) -> list[tuple[str, dict[str, str]]]:
    """tipg's requests for what one base-map tile holds at zoom z: a table each, the same
    fields, the same road classes and place kinds (maps/basemap_tiles.py)."""
    from maps import basemap_tiles as bt

    def quoted(values: list[str]) -> str:
        return ", ".join(f"'{v}'" for v in values)

    queries = [
        ("basemap.water", {"properties": "kind,name"}),
        ("basemap.green", {"properties": "kind,name"}),
        (
            "basemap.roads",
            {"properties": "class,name", "filter": f"class IN ({quoted(bt.road_classes(z))})"},
        ),
    ]
    if z >= bt.COMPOUND_ZOOM:
        queries.append(("basemap.compounds", {"properties": "name"}))
    if z >= bt.CELL_ZOOM:
        queries.append(
            ("public.grid_cells", {"properties": "code,name", "filter": TIPG_CELL_FILTER})
        )
    if z >= bt.PLACE_ZOOM:
        queries.append(("basemap.places", {"properties": "kind,name"}))
    elif z >= bt.MAJOR_PLACE_ZOOM:
        queries.append(
            (
                "basemap.places",
                {"properties": "kind,name", "filter": f"kind IN ({quoted(bt.MAJOR_PLACE_KINDS)})"},
            )
        )
    if z >= bt.BUILDING_ZOOM:
        queries.append(("public.buildings", {"properties": "address"}))
    column = {"public.grid_cells": "boundary_3857", "public.buildings": "footprint_3857"}
    for collection, query in queries:
        query["geom-column"] = column.get(collection, "geom_3857")
        if "filter" in query:
            query["filter-lang"] = "cql2-text"
    return queries


def tile_urls(
    server: str, port: int, layer: str, z: int, tiles, since: str
) -> list[str | tuple[str, ...]]:
    """The tile URLs of one server: gridgov's public route; tipg's OGC Tiles route on the
    same table and 3857 column, the same fields and the same rows (CQL2 filter). A base-map
    tile from tipg is a group of requests, one per table, timed together."""
    from urllib.parse import urlencode

    if server == "gridgov":
        return [f"http://127.0.0.1:{port}/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in tiles]
    base = f"http://127.0.0.1:{port}/collections"
    if layer == "basemap":
        return [
            tuple(
                f"{base}/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}?{urlencode(query)}"
                for collection, query in basemap_tipg_queries(z)
            )
            for x, y in tiles
        ]

    if layer == "incidents":
        query = {
            "geom-column": "public_point_3857",
            "properties": "tracking_number,category_code,status,created_at",
            "filter": TIPG_INCIDENT_FILTER.format(since=since),
            "filter-lang": "cql2-text",
        }
        collection = "public.incidents"
    else:
        query = {
            "geom-column": "boundary_3857",
            "properties": "code,name",
            "filter": TIPG_CELL_FILTER,
            "filter-lang": "cql2-text",
        }
        collection = "public.grid_cells"
    qs = urlencode(query)
    return [
        f"http://127.0.0.1:{port}/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}?{qs}"
        for x, y in tiles
    ]
