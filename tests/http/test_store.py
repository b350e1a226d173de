"""The store: the migration chain, health endpoints, and the registry matching the schema."""

from __future__ import annotations

import asyncpg
import pytest

from api.layers import LAYERS
from api.migrate import head_revision
from api.settings import Settings
from tests.conftest import app_client

PG_TYPES = {
    "text": {"text"},
    "int": {"integer", "bigint", "smallint"},
    "float": {"double precision", "numeric", "real"},
    "bool": {"boolean"},
    "date": {"date"},
    "timestamp": {"timestamp with time zone"},
}


async def test_registry_matches_migrated_schema(db_conn: asyncpg.Connection) -> None:
    """Every registry field is a column of that type; every column is in the registry."""
    for layer in LAYERS.values():
        rows = await db_conn.fetch(
            "SELECT column_name, data_type, udt_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = $1",
            layer.name,
        )
        columns = {r["column_name"]: r["data_type"] for r in rows}
        assert columns, f"{layer.name} has no table"
        for f in layer.all_fields:
            assert f.name in columns, f"{layer.name}.{f.name} is not a column"
            assert columns[f.name] in PG_TYPES[f.type], (layer.name, f.name, columns[f.name])
        assert set(columns) - {f.name for f in layer.all_fields} == {"id", "geom"}, layer.name


async def test_every_layer_has_spine_gist_and_srid(db_conn: asyncpg.Connection) -> None:
    """geom is EPSG:4326 with a GiST index; code is unique; the version trigger exists."""
    for name in LAYERS:
        srid = await db_conn.fetchval(
            "SELECT srid FROM geometry_columns WHERE f_table_name = $1 "
            "AND f_geometry_column = 'geom'",
            name,
        )
        assert srid == 4326, name
        gist = await db_conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE tablename = $1 "
            "AND indexdef ILIKE '%gist (geom)%'",
            name,
        )
        assert gist == 1, name
        unique = await db_conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE tablename = $1 "
            "AND indexdef ILIKE 'CREATE UNIQUE INDEX%(code)'",
            name,
        )
        assert unique == 1, name
        assert await db_conn.fetchval("SELECT version FROM layer_versions WHERE layer = $1", name)


async def test_layer_version_bumps_only_when_rows_change(db_conn: asyncpg.Connection) -> None:
    """An insert bumps the layer's version once; an update touching no row does not."""

    async def version() -> int:
        return await db_conn.fetchval("SELECT version FROM layer_versions WHERE layer='broadcasts'")

    v0 = await version()
    await db_conn.execute(
        "INSERT INTO broadcasts (code, name, geom) VALUES "
        "('B1', 'one', ST_SetSRID(ST_MakePoint(108.9, 34.2), 4326)),"
        "('B2', 'two', ST_SetSRID(ST_MakePoint(108.95, 34.25), 4326))"
    )
    assert await version() == v0 + 1
    await db_conn.execute("UPDATE broadcasts SET status = 'offline' WHERE code = 'nope'")
    assert await version() == v0 + 1
    before = await db_conn.fetchval("SELECT updated_at FROM broadcasts WHERE code = 'B1'")
    await db_conn.execute("UPDATE broadcasts SET status = 'offline' WHERE code = 'B1'")
    assert await version() == v0 + 2
    assert await db_conn.fetchval("SELECT updated_at FROM broadcasts WHERE code='B1'") > before
    # a statement that sets updated_at itself keeps what it set (migration 0036: the
    # trigger's WHEN stands aside); one that leaves it alone is touched
    await db_conn.execute("UPDATE broadcasts SET status = 'online', "
                          "updated_at = '2030-01-02T03:04:05Z' WHERE code = 'B1'")  # fmt: skip
    assert (await db_conn.fetchval(
        "SELECT updated_at = '2030-01-02T03:04:05Z' FROM broadcasts WHERE code='B1'"))  # fmt: skip
    await db_conn.execute("UPDATE broadcasts SET status = 'offline' WHERE code = 'B1'")
    assert await db_conn.fetchval(
        "SELECT updated_at < '2030-01-01' AND updated_at > $1 FROM broadcasts WHERE code='B1'",
        before)  # fmt: skip


async def test_gb18218_computed_from_substances(db_conn: asyncpg.Connection) -> None:
    """docs/grading-model.md example B: Cl2 20 t + methanol 800 t, α 2 → R 35.2, 三级."""
    hid = await db_conn.fetchval(
        "INSERT INTO hazard_sources (code, name, people_within_500m, geom) VALUES "
        "('HS1', 'depot', 150, ST_SetSRID(ST_MakePoint(108.9, 34.2), 4326)) RETURNING id"
    )
    await db_conn.executemany(
        "INSERT INTO hazard_substances (hazard_source_id, substance, q_tonnes, threshold_tonnes,"
        " beta) VALUES ($1, $2, $3, $4, $5)",
        [(hid, "chlorine", 20.0, 5.0, 4.0), (hid, "methanol", 800.0, 500.0, 1.0)],
    )
    row = await db_conn.fetchrow("SELECT * FROM hazard_sources WHERE id = $1", hid)
    assert row["s_value"] == pytest.approx(5.6)
    assert row["alpha"] == 2.0
    assert row["r_value"] == pytest.approx(35.2)
    assert row["gb_grade"] == 3
    await db_conn.execute("UPDATE hazard_sources SET people_within_500m = 0 WHERE id = $1", hid)
    row = await db_conn.fetchrow("SELECT * FROM hazard_sources WHERE id = $1", hid)
    assert row["alpha"] == 0.5 and row["r_value"] == pytest.approx(8.8) and row["gb_grade"] == 4


async def test_readings_partitions_and_idempotent_key(db_conn: asyncpg.Connection) -> None:
    """Partitions are made on demand; (point_id, ts) rejects a duplicate."""
    made = await db_conn.fetchval(
        "SELECT onemap_ensure_reading_partitions('2026-06-01T23:00Z', '2026-06-02T01:00Z')"
    )
    assert made == 2
    assert (
        await db_conn.fetchval(
            "SELECT onemap_ensure_reading_partitions('2026-06-01T00:00Z', '2026-06-02T00:00Z')"
        )
        == 0
    )
    await db_conn.execute("INSERT INTO readings VALUES (1, '2026-06-01T23:30Z', 1.5)")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db_conn.execute("INSERT INTO readings VALUES (1, '2026-06-01T23:30Z', 2.5)")
    with pytest.raises(asyncpg.RaiseError):
        await db_conn.fetchval(
            "SELECT onemap_ensure_reading_partitions('2026-01-01Z', '2028-01-01Z')"
        )


async def test_health_and_ready(empty_db: Settings) -> None:
    """/healthz is 200; /readyz reports PostGIS and the migration at head."""
    async with app_client(empty_db) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["migration"] == body["migration_head"] == head_revision(empty_db)
        assert body["postgis"].startswith("3.")


async def test_ready_reports_unmigrated_database(
    admin: asyncpg.Connection, base_settings: Settings
) -> None:
    """A reachable database that was never migrated is not ready (503, with the reason)."""
    from tests.support import dbutil

    name = dbutil.next_name("bare")
    await dbutil.create_database(admin, name, None)
    try:
        async with app_client(dbutil.settings_for(base_settings, name)) as client:
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["reason"] == "database is not migrated to head"
    finally:
        await dbutil.drop_database(admin, name)


async def test_unknown_route_is_problem_json(empty_db: Settings) -> None:
    """Errors are RFC 9457 problem documents."""
    async with app_client(empty_db) as client:
        r = await client.get("/no/such/thing")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 404
