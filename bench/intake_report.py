"""The intake bench's figures: the targets, the verdicts, the table and the JSON line."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from bench.intake_clients import Phase
from bench.machine import MachineLoad

RATE_TARGET, RATIO_TARGET, P99_TARGET_MS = 1000.0, 0.5, 100.0


@dataclass
class Figures:
    """Everything the run measured; printed as a table and as one JSON line."""

    http: Phase
    baseline: Phase
    stored: dict[str, Any]
    server: dict[str, Any]
    machine: MachineLoad
    preloaded: int = 0

    @property
    def ratio(self) -> float:
        return self.http.rate / self.baseline.rate if self.baseline.rate else float("nan")

    def errors(self) -> int:
        return sum(n for s, n in self.http.statuses.items() if s != 201) + sum(
            self.http.failures.values()
        )

    def targets(self) -> dict[str, bool]:
        return {
            "reports_per_s": self.http.rate >= RATE_TARGET,
            "ratio_to_baseline": self.ratio >= RATIO_TARGET,
            "p99_ms": self.http.percentile(99) < P99_TARGET_MS,
        }

    def correct(self) -> bool:
        s = self.stored
        n = self.http.answered_201
        return (
            self.errors() == 0
            and self.baseline.statuses.keys() <= {201}
            and not self.baseline.failures
            and s["incidents"] == n
            and s["outbox"] == n
            and s["idempotency_records"] == n
            and s["created_events"] == n
            and s["assignment_events"] == s["assigned"]
            and s["unrouted"] == 0
            and s["checked"] == n
            and s["missing"] == 0
            and s["wrong_cell"] == 0
        )


def cpu_line(phase: Phase) -> str:
    per = phase.cpu_ms_per_report()
    if not per:
        return "not measured (no /proc)"
    parts = ", ".join(f"{k} {v:.2f}" for k, v in per.items())
    return f"{parts}; machine {phase.machine_busy():.0%} busy"


def print_figures(f: Figures, args: argparse.Namespace) -> None:
    ok = {k: f.machine.verdict(v) for k, v in f.targets().items()}
    h, b, s, srv = f.http, f.baseline, f.stored, f.server
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(h.statuses.items()))
    failures = ", ".join(f"{k}: {v}" for k, v in h.failures.items()) or "none"
    lines = [
        f"gridgov intake benchmark: {f.preloaded:,} incidents preloaded; "
        f"{args.clients} clients, {args.seconds:g} s timed each in "
        f"{args.rounds} alternating slices after {args.warm_up:g} s warm-up; "
        f"{srv['workers']} uvicorn worker(s) ({srv['loop']}, "
        f"{srv['http']}), db pool {srv['db_pool_size']} each; {srv['client']} client",
        f"  HTTP POST /reports   {h.rate:>8,.0f} reports/s  p50 {h.percentile(50):6.2f} ms  "
        f"p99 {h.percentile(99):6.2f} ms   target >= {RATE_TARGET:,.0f}/s: "
        f"{ok['reports_per_s']}, p99 < {P99_TARGET_MS:.0f} ms: {ok['p99_ms']}",
        f"  raw SQL baseline     {b.rate:>8,.0f} reports/s  p50 {b.percentile(50):6.2f} ms  "
        f"p99 {b.percentile(99):6.2f} ms   asyncpg pool of {args.baseline_pool}: "
        "point lookup + incident/events/outbox insert, one transaction each",
        f"  HTTP / baseline      {f.ratio:8.2f} x{'':39}target >= {RATIO_TARGET:.2f}: "
        f"{ok['ratio_to_baseline']}",
        f"  CPU ms per report    HTTP: {cpu_line(h)}",
        f"                       baseline: {cpu_line(b)}",
        f"  answers: {statuses}; client failures: {failures}; client connections per "
        f"worker: {'/'.join(map(str, h.connections_per_worker)) or 'unknown'}",
        f"  stored: {s['incidents']:,} incidents for {h.answered_201:,} answers 201 "
        f"(timed slices), {s['created_events']:,} created + {s['assignment_events']:,} "
        f"assignment events, {s['outbox']:,} outbox rows, {s['idempotency_records']:,} "
        f"idempotency records, {s['gcj02']:,} sent as GCJ-02",
        "  routed by rule: "
        + ", ".join(f"{k} {v:,}" for k, v in s["by_rule"].items())
        + f"; unrouted {s['unrouted']}",
        f"  checked by tracking number against ST_Covers: {s['checked']:,} of "
        f"{h.answered_201:,} answered; missing or doubled {s['missing']}, in another cell "
        f"{s['wrong_cell']}",
        "  " + f.machine.line(),
    ]
    print("\n".join(lines))
    print(
        json.dumps(
            {
                "bench": "intake",
                "clients": args.clients,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "warm_up_s": args.warm_up,
                "server": srv,
                "http": h.summary(),
                "baseline": b.summary(),
                "ratio": round(f.ratio, 3),
                "statuses": {str(k): v for k, v in h.statuses.items()},
                "connections_per_worker": h.connections_per_worker,
                "client_failures": dict(h.failures),
                "answered_201": h.answered_201,
                "stored": s,
                "preloaded": f.preloaded,
                "targets": ok,
                "machine": f.machine.as_json(),
                "correct": f.correct(),
            },
            ensure_ascii=False,
        )
    )
