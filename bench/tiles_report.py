"""The tiles bench's figures: the table per cache setting, server, layer and zoom, the
targets and the JSON line."""

from __future__ import annotations

import argparse
import json
import math

from bench.machine import MachineWatch
from bench.tiles_servers import CACHES
from bench.tiles_timing import BASEMAP_ZOOMS, Run, layers, same_features, zooms

BASEMAP_TARGET_MS = 10.0
P50_TARGET_MS, P99_TARGET_MS, TARGET_ZOOM = 8.0, 30.0, 14

# ---------------------------------------------------------------------------- report


def print_figures(
    args: argparse.Namespace,
    runs: list[Run],
    mismatches: int,
    shown: dict[str, int],
    watch: MachineWatch,
) -> None:
    by_key = {(r.server, r.cache, r.layer, r.zoom): r for r in runs}
    load = watch.load
    print(
        f"\nVector tiles: {shown['incidents']:,} incidents ({shown['shown']:,} shown on the "
        f"map, {shown['shown_open']:,} of them open), {args.cells:,} cells; "
        f"{args.workers} uvicorn worker(s) per server; bins vs direct count: "
        f"{mismatches} differing rows, zoom-16 bins sum to {shown['bins_sum']:,}.\n"
        f"first: each tile once, one request at a time; then {args.requests} requests per "
        f"row (or {args.max_seconds:g} s) cycling through the tiles, {args.concurrency} at "
        f"a time (p50, p99, tiles/s); KB: mean tile size. 'same': both serve the same "
        f"features (only those rows are compared)."
    )
    header = (
        f"{'cache':<6}{'layer':<10}{'z':>3}{'tiles':>6} {'same':>5} | {'gridgov first':>13}"
        f"{'p50':>7}{'p99':>7}{'tiles/s':>8}{'KB':>8} | {'tipg first':>10}{'p50':>8}"
        f"{'p99':>8}{'tiles/s':>8}{'KB':>8} | {'p50 tipg/gridgov':>16}"
    )
    print(header)
    print("-" * len(header))
    for cache in CACHES:
        for layer in layers(args):
            for z in zooms(layer):
                g, t = by_key[("gridgov", cache, layer, z)], by_key[("tipg", cache, layer, z)]
                gs, ts = g.summary(), t.summary()
                ratio = ts["p50_ms"] / gs["p50_ms"] if gs["p50_ms"] else math.nan
                same = (
                    "yes"
                    if same_features(layer, z)
                    else ("counts" if layer == "incidents" else "no")
                )
                print(
                    f"{cache:<6}{layer:<10}{z:>3}{g.tiles:>6} {same:>5} | "
                    f"{gs['first_p50_ms']:>13.1f}{gs['p50_ms']:>7.1f}{gs['p99_ms']:>7.1f}"
                    f"{gs['tiles_per_s']:>8.0f}{gs['mean_kb']:>8.1f} | "
                    f"{ts['first_p50_ms']:>10.1f}{ts['p50_ms']:>8.1f}{ts['p99_ms']:>8.1f}"
                    f"{ts['tiles_per_s']:>8.0f}{ts['mean_kb']:>8.1f} | "
                    + (f"{ratio:>15.1f}x" if same == "yes" else f"{'(not compared)':>16}")
                )
    checks: dict[str, bool] = {}
    for layer in ("incidents", "cells"):
        if ("gridgov", "off", layer, TARGET_ZOOM) in by_key:
            uncached = by_key[("gridgov", "off", layer, TARGET_ZOOM)]
            checks[f"uncached {layer} z{TARGET_ZOOM} p50 <= {P50_TARGET_MS:g} ms"] = (
                uncached.percentile(50) <= P50_TARGET_MS
            )
            checks[f"uncached {layer} z{TARGET_ZOOM} p99 <= {P99_TARGET_MS:g} ms"] = (
                uncached.percentile(99) <= P99_TARGET_MS
            )
    if ("gridgov", "off", "basemap", TARGET_ZOOM) in by_key:
        cut = by_key[("gridgov", "off", "basemap", TARGET_ZOOM)].percentile(50)
        checks[f"uncached basemap z{TARGET_ZOOM} p50 <= {BASEMAP_TARGET_MS:g} ms"] = (
            cut <= BASEMAP_TARGET_MS
        )
        print(
            "\nbase-map bytes per tile by zoom (gridgov one tile; tipg its tables' tiles): "
            + ", ".join(
                f"z{z} {by_key[('gridgov', 'off', 'basemap', z)].summary()['mean_kb']:.1f} "
                f"KB / {by_key[('tipg', 'off', 'basemap', z)].summary()['mean_kb']:.1f} KB"
                for z in BASEMAP_ZOOMS
            )
        )
    for cache in CACHES:
        compared = [
            (layer, z) for layer in layers(args) for z in zooms(layer) if same_features(layer, z)
        ]
        if compared:
            checks[
                f"cache {cache} vs {cache}: p50 below tipg's on every row with the same features"
            ] = all(
                by_key[("gridgov", cache, layer, z)].percentile(50)
                < by_key[("tipg", cache, layer, z)].percentile(50)
                for layer, z in compared
            )
    print()
    print(load.line())
    for name, ok in checks.items():
        print(f"  {load.verdict(ok):<17}  {name}")
    print(
        json.dumps(
            {
                "incidents": shown,
                "cells": args.cells,
                "concurrency": args.concurrency,
                "workers": args.workers,
                "bin_mismatches": mismatches,
                "machine": load.as_json(),
                "runs": [
                    r.summary() | {"same_features": same_features(r.layer, r.zoom)} for r in runs
                ],
                "targets": {name: load.verdict(ok) for name, ok in checks.items()},
            },
            ensure_ascii=False,
        )
    )
