"""The machine watch every bench wraps its timed part in: load averages and CPU by whose
(the bench, its servers, its database's backends, everyone else) during a run, and
whether a verdict may be given."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


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
