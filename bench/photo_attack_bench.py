"""Photo decompression attack (issue 15, item 7): serve the app, file reports as an
anonymous client, each with 6 PNGs declaring 39.7 megapixels (~220 KB each on the wire,
119 MB each once decoded), and print the server's resident memory before, at its peak
and after.

    .venv/bin/python -m bench.photo_attack_bench                      # as shipped (24 MP)
    .venv/bin/python -m bench.photo_attack_bench --max-megapixels 40  # let them decode

The second run shows what the limit saves: the same photos decoded (two at a time, the
process's bound). The bench's database only has to exist and be migrated (photos are
checked before a report touches it); its name must contain "bench".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import zlib
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench.common import (
    Clock,
    free_port,
    gridgov_command,
    migrate,
    refuse_shared_databases,
    start_server,
    stop_server,
)
from bench.machine import MachineWatch

DEFAULT_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov_bench_photos"


def bomb_png(width: int = 7680, height: int = 5170) -> bytes:
    """A valid all-black RGB PNG of width×height, compressed about 500:1."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and its high-water mark (VmHWM), MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


async def attack(base: str, photo: bytes, reports: int, photos: int) -> Counter:
    """File `reports` reports at once, each with `photos` copies of the photo."""
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:

        async def one(n: int) -> int:
            files = [("photos", (f"p{n}-{i}.png", photo, "image/png")) for i in range(photos)]
            answer = await client.post(
                "/reports",
                files=files,
                data={
                    "category": "fire.blocked_exit",
                    "lon": "114.0",
                    "lat": "22.5",
                    "description": "photo attack bench",
                },
            )
            return answer.status_code

        return Counter(await asyncio.gather(*(one(n) for n in range(reports))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reports", type=int, default=2)
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="attack rounds, one after another")
    parser.add_argument(
        "--max-megapixels",
        type=int,
        default=None,
        help="GRIDGOV_MAX_PHOTO_MEGAPIXELS for the server (default: shipped)",
    )
    args = parser.parse_args(argv)
    say = Clock()
    refuse_shared_databases(args.database_url, "serves the app on it")
    migrate(args.database_url, say)
    photo = bomb_png()
    say(
        f"photo: {len(photo) / 1024:.0f} KB on the wire, 7680x5170 = 39.7 MP "
        f"({7680 * 5170 * 3 / 2**20:.0f} MB decoded); {args.reports} reports x "
        f"{args.photos} photos = {len(photo) * args.reports * args.photos / 2**20:.1f} MB "
        "per round"
    )
    env = os.environ | {
        "GRIDGOV_DATABASE_URL": args.database_url,
        "GRIDGOV_RATE_LIMITS_ENABLED": "false",
    }
    if args.max_megapixels:
        env["GRIDGOV_MAX_PHOTO_MEGAPIXELS"] = str(args.max_megapixels)
    port = free_port()
    server = start_server(gridgov_command(port), env, f"http://127.0.0.1:{port}/health")
    try:
        before = memory_mb(server.pid)
        answers: Counter = Counter()
        with MachineWatch(make_url(args.database_url).database or "", server.pid) as watch:
            for _ in range(args.rounds):
                answers += asyncio.run(
                    attack(f"http://127.0.0.1:{port}", photo, args.reports, args.photos)
                )
        after = memory_mb(server.pid)
    finally:
        stop_server(server)
    limit = args.max_megapixels or 24
    print(f"photo limit {limit} MP; answers {dict(answers)}")
    print(
        f"server RSS before {before['VmRSS']:.0f} MB, peak {after['VmHWM']:.0f} MB, "
        f"after {after['VmRSS']:.0f} MB"
    )
    # Memory is the figure here, not time; the load still says what else was running.
    print(watch.load.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
