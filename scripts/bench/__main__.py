"""`python -m scripts.bench [SECTION ...] [--repeat N]`: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys

import uvloop

from api.settings import Settings
from scripts.bench import Context, Row, console

#: one module per capability, each adding rows to the table
SECTIONS = (
    "imports",
    "analysis",
    "tiles",
    "grading",
    "routing",
    "editing",
    "incidents",
    "assessment",
    "retention",
    "raster",
)
#: run only when named: `cluster` brings up `make cluster` (ports PORT..PORT+2)
ON_REQUEST = ("cluster",)

HEADER = (
    "| what | ours | reference | ratio (reference time / ours) | goal |\n|---|---|---|---|---|\n"
)


def _line(row: Row) -> str:
    return f"| {row.what} | {row.ours} | {row.reference} | {row.ratio} | {row.goal} |\n"


async def _main(sections: list[str], repeat: int) -> int:
    ctx = Context(Settings(), repeat)
    rows: list[Row] = []
    for name in sections:
        module = importlib.import_module(f"scripts.bench.{name}")
        console.print(f"[bold]bench[/bold] {name}")
        rows += await module.run(ctx)
    sys.stdout.write(f"\nonemap bench ({platform.machine()}, {platform.python_version()})\n\n")
    sys.stdout.write(HEADER)
    for row in rows:
        sys.stdout.write(_line(row))
    return 0


def main() -> int:
    """Parse arguments and run the chosen sections (all by default)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("sections", nargs="*", help=f"which to run: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds (runs) of each side; default 3",
    )
    args = parser.parse_args()
    known = SECTIONS + ON_REQUEST
    unknown = [s for s in args.sections if s not in known]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    # the event loop `onemap serve` runs on (uvicorn[standard] installs uvloop): the
    # in-process API calls, the raw asyncpg reference and the load generator all use it
    return uvloop.run(_main(list(args.sections) or list(SECTIONS), max(1, args.repeat)))


if __name__ == "__main__":
    raise SystemExit(main())
