"""What every bench shares: the progress clock, the bench-database guard, migrating,
checkpoints, ports, starting and stopping servers, percentiles, the machine watch (load
and CPU during a run, and whether a verdict may be given), and loading the synthetic
district's register (bench/district.py) through the product's own path."""

from __future__ import annotations

import asyncio
import io
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from bench.district import BENCH_CRS, District, make_buildings, write_geopackage
from gis.crs import STORAGE_SRID
from gis.database import ensure_database

ROOT = Path(__file__).resolve().parent.parent
BASELINE_TABLE = "bench_baseline_buildings"  # the register bench's plain-GeoPandas copy
WORKER_PASSWORD = "gridgov-bench"  # every bench district worker signs in with it
ASSIGNED_FROM = date(2020, 1, 1)  # when the bench district's primary assignments start


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


class CpuMeter:
    """CPU seconds (Linux /proc) of the server's processes (each pid with its children),
    of the database's backends on this machine, of PostgreSQL's own background processes,
    of this process (the clients), and of the whole machine: on a shared machine the rate
    alone does not say whether someone else was busy too.

    Servers and backends are remembered by (pid, start time) with the CPU last read, so a
    backend that ends between two readings (a closed pool) still counts as the bench's up
    to its last `sample()` (MachineWatch samples twice a second), not as someone else's."""

    def __init__(
        self, database: str | Sequence[str], server_pid: int | None = None, *more_pids: int
    ) -> None:
        self.database, self.server_pid = database, server_pid
        self.databases = [database] if isinstance(database, str) else list(database)
        self.pids = [p for p in (server_pid, *more_pids) if p is not None]
        self.tick = os.sysconf("SC_CLK_TCK")
        self._seen: dict[str, dict[tuple[int, int], float]] = {"server": {}, "postgres": {}}
        self._lock = threading.Lock()

    def sample(self) -> None:
        """Read the CPU of the servers' processes and the database's backends now."""
        found = {
            "server": [p for pid in self.pids for p in self._tree(pid) if p != os.getpid()],
            "postgres": self._backends(),
        }
        with self._lock:
            for kind, pids in found.items():
                for pid in pids:
                    read = self._read(pid)
                    if read is not None:
                        self._seen[kind][read[0]] = read[1]

    def snapshot(self) -> dict[str, float] | None:
        try:
            with open("/proc/stat") as f:
                jiffies = [int(v) for v in f.readline().split()[1:9]]
        except OSError:
            return None
        times = os.times()
        return {
            # user, nice, system, idle, iowait, irq, softirq, steal: idle and iowait excluded
            "machine": (sum(jiffies) - jiffies[3] - jiffies[4]) / self.tick,
            # This process's own CPU is the client's; its children (servers, browsers)
            # are counted as the server's.
            **self._remembered(),
            "postgres_aux": sum(self._cpu(pid) for pid in self._auxiliary()),
            "client": times.user + times.system,
        }

    @staticmethod
    def usage(start: dict[str, float] | None, end: dict[str, float] | None) -> dict[str, float]:
        if not start or not end:
            return {}
        used = {k: end[k] - start[k] for k in start}
        ours = sum(used.get(k, 0.0) for k in ("server", "postgres", "postgres_aux", "client"))
        used["other"] = max(used["machine"] - ours, 0.0)
        return used

    def _remembered(self) -> dict[str, float]:
        self.sample()
        with self._lock:
            return {kind: sum(seen.values()) for kind, seen in self._seen.items()}

    def _read(self, pid: int) -> tuple[tuple[int, int], float] | None:
        """((pid, start time), utime + stime in seconds), or None once it has gone."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (pid, int(fields[19])), (int(fields[11]) + int(fields[12])) / self.tick

    def _cpu(self, pid: int) -> float:
        read = self._read(pid)
        return 0.0 if read is None else read[1]

    def _tree(self, pid: int | None) -> list[int]:
        if pid is None:
            return []
        found = [pid]
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                children = task.read_text().split()
            except OSError:
                continue
            for child in children:
                found += self._tree(int(child))
        return found

    def _backends(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    words = (entry / "cmdline").read_bytes().split()
                except OSError:
                    continue
                if words[:1] == [b"postgres:"] and any(d.encode() in words for d in self.databases):
                    pids.append(int(entry.name))
        return pids

    @staticmethod
    def _auxiliary() -> list[int]:
        """The WAL writer, checkpointer and background writer: they write for every
        database, the bench's too, so they count neither as the bench nor as others."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    line = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if line.startswith(b"postgres:") and any(
                    w in line for w in (b"walwriter", b"checkpointer", b"background writer")
                ):
                    pids.append(int(entry.name))
        return pids


# A verdict needs a quiet machine: more than this many cores used by processes that are
# neither the bench, its servers nor its database's backends, and figures are shown but
# no goal is called met or missed.
BUSY_OTHER_CORES = 0.25
SAMPLE_SECONDS = 0.5  # how often a watch reads its servers' and backends' CPU


@dataclass
class MachineLoad:
    """The machine during one run: wall seconds, load averages at start and end, CPU
    seconds by whose (CpuMeter.usage), and whether a verdict may be given."""

    seconds: float
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def other_cores(self) -> float:
        """Cores other processes used on average (NaN when /proc could not be read)."""
        if not self.cpu or self.seconds <= 0:
            return math.nan
        return self.cpu["other"] / self.seconds

    @property
    def quiet(self) -> bool:
        """Whether others used at most BUSY_OTHER_CORES (unknown counts as busy)."""
        return self.other_cores <= BUSY_OTHER_CORES

    def cores(self, whose: str) -> float:
        return self.cpu.get(whose, math.nan) / self.seconds if self.seconds > 0 else math.nan

    def line(self) -> str:
        """One line for the figures: load averages and the cores each party used."""
        start, end = self.load_start, self.load_end
        used = ", ".join(
            f"{k} {self.cores(k):.2f}"
            for k in ("server", "postgres", "postgres_aux", "client", "other")
        )
        state = (
            "quiet enough for a verdict"
            if self.quiet
            else f"BUSY: other processes used {self.other_cores:.2f} cores "
            f"(> {BUSY_OTHER_CORES:g}), so no verdict"
        )
        return (
            f"machine over {self.seconds:.0f} s on {os.cpu_count()} cores: load average "
            f"{start[0]:.2f}/{start[1]:.2f}/{start[2]:.2f} -> "
            f"{end[0]:.2f}/{end[1]:.2f}/{end[2]:.2f}; cores used: {used}; {state}"
        )

    def verdict(self, met: bool) -> str:
        """'met' or 'NOT met', or 'no verdict' when the machine was busy."""
        if not self.quiet:
            return "no verdict (busy)"
        return "met" if met else "NOT met"

    def as_json(self) -> dict[str, object]:
        return {
            "seconds": round(self.seconds, 1),
            "load_start": self.load_start,
            "load_end": self.load_end,
            "cores": {k: round(self.cores(k), 3) for k in self.cpu},
            "other_cores": round(self.other_cores, 3),
            "verdict_allowed": self.quiet,
        }


class MachineWatch:
    """The one helper every bench wraps its timed part in: load averages and CPU of the
    bench (this process), of its servers (`pids`, with their children), of the bench
    database's backends, and of every other process.

        with MachineWatch(database, server.pid) as watch:
            ...timed work...
        print(watch.load.line()); verdict = watch.load.verdict(p50 <= goal)

    Watches may be combined (`MachineLoad`s summed with `combine`) for a bench that
    times several parts with untimed work between them."""

    def __init__(self, database: str | Sequence[str], *pids: int | None) -> None:
        known = [p for p in pids if p is not None]
        self.meter = CpuMeter(database, *(known or [None]))
        self.load: MachineLoad | None = None

    def add(self, pid: int) -> None:
        """Count another process (a server started after the watch) as the bench's."""
        self.meter.pids.append(pid)

    def start(self) -> MachineWatch:
        """Begin watching (what entering the `with` does)."""
        self._t0, self._load0 = time.monotonic(), os.getloadavg()
        self._cpu0 = self.meter.snapshot()
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.meter.sample()

    def stop(self) -> MachineLoad:
        """Stop watching (what leaving the `with` does); the result is also `self.load`."""
        self._done.set()
        self._sampler.join()
        self.load = MachineLoad(
            time.monotonic() - self._t0,
            self._load0,
            os.getloadavg(),
            CpuMeter.usage(self._cpu0, self.meter.snapshot()),
        )
        return self.load

    def __enter__(self) -> MachineWatch:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


def combine(loads: Iterable[MachineLoad]) -> MachineLoad:
    """Several watched parts as one: seconds and CPU summed, the first start's load and
    the last end's."""
    loads = list(loads)
    cpu: dict[str, float] = {}
    for load in loads:
        for k, v in load.cpu.items():
            cpu[k] = cpu.get(k, 0.0) + v
    if any(not load.cpu for load in loads):
        cpu = {}
    return MachineLoad(sum(x.seconds for x in loads), loads[0].load_start, loads[-1].load_end, cpu)


# ---- the bench district's register ----


def prepare_cells_file(
    district: District, work_dir: Path, cells: int, seed: int, say: Clock
) -> Path:
    """The cells GeoPackage in work_dir, written unless a kept run left it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    cells_path = work_dir / f"cells-c{cells}-s{seed}.gpkg"
    if not cells_path.exists():
        write_geopackage(district.cells()[["code", "name", "geometry"]], cells_path, "cells", say)
    return cells_path


def prepare_files(
    district: District, work_dir: Path, cells: int, buildings: int, seed: int, say: Clock
) -> tuple[Path, Path]:
    """The cells and buildings GeoPackages in work_dir, generated unless a kept run left them."""
    cells_path = prepare_cells_file(district, work_dir, cells, seed, say)
    buildings_path = work_dir / f"buildings-{buildings}-c{cells}-s{seed}.gpkg"
    if buildings_path.exists():
        say(f"reusing {buildings_path}")
    else:
        frame = district.cells()
        say(f"generating {buildings:,} buildings in {len(frame):,} cells")
        footprints = make_buildings(district, frame, buildings, seed)
        say(f"writing {buildings_path} (EPSG:{BENCH_CRS})")
        write_geopackage(footprints, buildings_path, "buildings", say)
    return cells_path, buildings_path


def reset_register(conn: Connection) -> None:
    """Empty the register (grid.demo_load.clear_register) and drop the baseline table."""
    from grid.demo_load import clear_register

    clear_register(conn)
    conn.execute(text(f"DROP TABLE IF EXISTS {BASELINE_TABLE}"))


def load_register(engine: Engine, district: District, cells_path: Path, say: Clock) -> None:
    """Reset, then load regions, activated cells and a primary grid worker per cell."""
    from grid.accounts import hash_password
    from grid.importing.cells import import_cells
    from grid.versions import activate_version

    say("resetting the register and loading regions")
    with engine.begin() as conn:
        reset_register(conn)
        insert_regions(conn, district)
    with engine.begin() as conn:
        report, version_id = import_cells(conn, cells_path, label="bench cells", progress=say)
        if report.rejected or version_id is None:
            raise SystemExit(f"cell import rejected rows: {report.rejected[:3]}")
        activation = activate_version(conn, version_id)
        say(f"version {version_id} active: {activation.cells_activated:,} cells")
    with engine.begin() as conn:
        insert_workers(conn, hash_password(WORKER_PASSWORD))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE regions, grid_cells, grid_cell_parts, users, cell_assignments"))


def insert_regions(conn: Connection, district: District) -> None:
    """Regions top-down with their materialised paths ('/1/2/3/')."""
    regions = district.regions()
    ids = (
        conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('regions', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(regions)},
        )
        .scalars()
        .all()
    )
    outlines = gpd.GeoSeries([r.outline for r in regions], crs=BENCH_CRS).to_crs(STORAGE_SRID)
    by_code: dict[str, tuple[int, str]] = {}
    rows = []
    for region, region_id, outline in zip(regions, ids, outlines, strict=True):
        parent_id, parent_path = by_code[region.parent] if region.parent else (None, "/")
        path = f"{parent_path}{region_id}/"
        by_code[region.code] = (region_id, path)
        rows.append(
            {
                "id": region_id,
                "code": region.code,
                "name": region.name,
                "level": region.level,
                "parent": parent_id,
                "path": path,
                "wkb": shapely.to_wkb(outline, hex=True),
            }
        )
    conn.execute(
        text("""
        INSERT INTO regions (id, code, name, level, parent_id, path, boundary)
        VALUES (:id, :code, :name, :level, :parent, :path,
                ST_Multi(ST_SetSRID(ST_GeomFromWKB(decode(:wkb, 'hex')), 4326)))
    """),
        rows,
    )


def insert_workers(conn: Connection, password_hash: str) -> None:
    """A grid worker per cell in force (COPY), each its cell's primary worker."""
    codes = (
        conn.execute(
            text(
                "SELECT code FROM grid_cells WHERE active_from IS NOT NULL AND active_to IS NULL "
                "ORDER BY code"
            )
        )
        .scalars()
        .all()
    )
    buffer = io.StringIO()
    for code in codes:
        buffer.write(
            f"w{code}\t网格员{code[-6:]}\t139{code[-8:]}\tgrid_worker\t"
            f"{code[:12]}\t{password_hash}\n"
        )
    buffer.seek(0)
    conn.execute(
        text(
            "CREATE TEMP TABLE bench_workers (username text, display_name text, "
            "phone text, role text, community text, password_hash text) "
            "ON COMMIT DROP"
        )
    )
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert("COPY bench_workers FROM STDIN", buffer)
    conn.execute(
        text("""
        INSERT INTO users (username, display_name, phone, role, region_id, password_hash)
        SELECT w.username, w.display_name, w.phone, w.role, r.id, w.password_hash
        FROM bench_workers w JOIN regions r ON r.code = w.community
    """)
    )
    conn.execute(
        text("""
        INSERT INTO cell_assignments (cell_id, user_id, kind, valid_from)
        SELECT c.id, u.id, 'primary', :since
        FROM grid_cells c JOIN users u ON u.username = 'w' || c.code
        WHERE c.active_from IS NOT NULL AND c.active_to IS NULL
    """),
        {"since": ASSIGNED_FROM},
    )
