"""What every bench shares: the progress clock, the bench-database guard, migrating,
checkpoints, ports, starting and stopping servers, and percentiles. The machine watch
lives in bench/machine.py, loading the district's register in bench/district_load.py."""

from __future__ import annotations

import asyncio
import math
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from core.database import ensure_database

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    """Elapsed-time progress lines on stderr."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)


# ---- databases ----


def refuse_shared_databases(url: str, wipes: str) -> None:
    """Exit unless the database's name contains 'bench' (the bench `wipes` its data)."""
    name = make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(
            f"refusing database {name!r}: the bench {wipes}, so its "
            "database name must contain 'bench'"
        )


def migrate(url: str, say: Clock) -> None:
    """Create the database if missing and upgrade it to head in-process (Alembic)."""
    from alembic import command

    from migrations import alembic_config

    ensure_database(url)
    say(f"migrating {make_url(url).database}")
    command.upgrade(alembic_config(url), "head")


def run_gridgov(env: dict[str, str], *command: str, quiet: bool = False) -> None:
    """Run the venv's `gridgov` command (the product's own set-up path); output to stderr."""
    gridgov = str(Path(sys.executable).with_name("gridgov"))
    subprocess.run(
        [gridgov, *command],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL if quiet else sys.stderr,
    )


def checkpoint(engine: Engine, say: Clock) -> None:
    """Flush earlier writes first, so one timing does not pay for the last one's WAL."""
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    except Exception as exc:  # needs superuser or pg_checkpoint; the timing still runs
        say(f"no CHECKPOINT before timing ({type(exc).__name__}); figures may be noisier")


# ---- servers ----


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def uvicorn_command(port: int, *flags: str, python: str | Path = sys.executable) -> list[str]:
    """uvicorn on 127.0.0.1:port, access log off, warnings only; `flags` add the app etc."""
    return [
        str(python),
        "-m",
        "uvicorn",
        *flags,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def gridgov_command(port: int, *flags: str) -> list[str]:
    """uvicorn with the app factory (what `gridgov serve` runs), plus `flags`."""
    return uvicorn_command(port, "api.app:create_app", "--factory", *flags)


def start_server(
    command: Sequence[str],
    env: dict[str, str],
    health_url: str,
    *,
    name: str = "the server",
    within_s: float = 60.0,
    poll_s: float = 0.2,
    request_timeout_s: float = 1.0,
) -> subprocess.Popen:
    """Start `command` in the project root and wait until `health_url` answers 200."""
    server = subprocess.Popen(list(command), env=env, cwd=ROOT)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{name} exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(health_url, timeout=request_timeout_s) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(poll_s)
    stop_server(server)
    raise SystemExit(f"{name} did not answer {health_url} within {within_s:g} s")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM the server, then kill it if it has not gone within 20 s."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def connections_per_worker(port: int) -> list[int]:
    """Client connections each server process holds (`ss`; empty when it is missing)."""
    try:
        listing = subprocess.run(
            ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    owners = Counter(
        line.split("pid=")[1].split(",")[0] for line in listing.splitlines() if "pid=" in line
    )
    return sorted(owners.values(), reverse=True)


def run_on_uvloop(coroutine):
    """Run on uvloop when it is there (as the server does), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# ---- figures ----


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile of `values` (numpy's linear one); NaN when there are none."""
    values = list(values) if not isinstance(values, np.ndarray) else values
    return float(np.percentile(values, q)) if len(values) else math.nan


def float8_column(values: np.ndarray):
    """A float8 column for gis.pgcopy's binary COPY."""
    from gis.pgcopy import CopyField

    n = len(values)
    payload = np.frombuffer(values.astype(">f8").tobytes(), np.uint8)
    return CopyField(np.full(n, 8, dtype=np.int64), payload, np.arange(n + 1) * 8)


def insert_history(
    engine: Engine,
    staging: str,
    cell_join: str,
    *,
    prefix: str,
    channel: str,
    rows: int,
    chunk: int,
    say: Clock,
) -> None:
    """Move generated history from `staging` (n, lon, lat, category, status, age_s,
    closed_age_s, and the column `cell_join` matches a cell `c` on) into incidents by
    INSERT ... SELECT, `chunk` rows at a time, so every trigger and index works as for
    intake; tracking numbers are `prefix` + n in 9 digits. Drops `staging` after."""
    started = time.perf_counter()
    for first in range(0, rows, chunk):
        with engine.begin() as conn:
            conn.execute(
                text(f"""
                INSERT INTO incidents (tracking_number, secret_hash, category_code, status,
                    location, input_lon, input_lat, input_system, cell_id, region_id,
                    routing_rule, responsible_level, channel, created_at, updated_at,
                    closed_at)
                SELECT '{prefix}' || lpad(s.n::text, 9, '0'), 'bench', s.category, s.status,
                    ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.lon, s.lat, 'wgs84',
                    c.id, c.community_id, 'inside', 'primary', '{channel}',
                    now() - make_interval(secs => s.age_s),
                    now() - make_interval(secs => coalesce(s.closed_age_s, s.age_s)),
                    now() - make_interval(secs => s.closed_age_s)
                FROM {staging} s JOIN grid_cells c ON {cell_join}
                WHERE s.n >= :first AND s.n < :last
                ORDER BY s.n
            """),
                {"first": first, "last": first + chunk},
            )
        done = min(first + chunk, rows)
        rate = done / (time.perf_counter() - started)
        say(f"  incidents: {done:,} / {rows:,} inserted ({rate:,.0f}/s, triggers and indexes)")
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {staging}"))
