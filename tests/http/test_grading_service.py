"""The regrade machinery: after-full-regrade hooks, one scheduled runner across workers, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from api.grading.engine import RegradeResult
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client, role_headers, running_app
from tests.support.grading_db import seed_gas_unit


async def test_after_full_regrade_hooks_run_after_api_and_schedule(empty_db: Settings) -> None:
    """Hooks attached to app.state.after_full_regrade get every full regrade's result."""
    await seed_gas_unit(empty_db.database_url)
    headers = await role_headers(empty_db)
    seen: list[tuple[str, int]] = []

    async def rebuild_surface(result: RegradeResult) -> None:
        seen.append(("async", result.units))

    def failing_hook(result: RegradeResult) -> None:
        raise RuntimeError("a broken hook must not stop the others")

    async with app_client(empty_db, headers["admin"]) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        app.state.after_full_regrade.extend([failing_hook, rebuild_surface,
                                             lambda r: seen.append(("sync", r.units))])  # fmt: skip
        r = await client.post("/grading/run")
        assert r.status_code == 200 and r.json()["level_changes"] == 1
        assert seen == [("async", 1), ("sync", 1)]
        # incremental regrades do not run the hooks
        await app.state.grading.regrade_units([1])
        assert len(seen) == 2


async def test_one_scheduled_runner_across_workers(empty_db: Settings) -> None:
    """Two app processes tick at once: one full regrade; the next tick is not yet due."""
    await seed_gas_unit(empty_db.database_url)
    settings = empty_db.model_copy(update={"grading_interval_s": 3600})
    async with running_app(settings) as a, running_app(settings) as b:
        results = await asyncio.gather(a.state.grading.scheduled_tick(),
                                       b.state.grading.scheduled_tick())  # fmt: skip
        assert sorted(r is None for r in results) == [False, True]
        assert await a.state.grading.scheduled_tick() is None  # ran a moment ago
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        runs = await conn.fetch("SELECT trigger, units FROM grading_runs")
        parts = await conn.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass"
        )
    finally:
        await conn.close()
    assert [(r["trigger"], r["units"]) for r in runs] == [("schedule", 1)]
    assert parts == 3  # today and the next two days, made by the same tick


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONEMAP_DATABASE_URL": settings.database_url,
           "ONEMAP_ENVIRONMENT": "test", "COLUMNS": "200"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


async def test_cli_grade_readings_import_and_params(empty_db: Settings, tmp_path: Path) -> None:
    """`onemap readings import`, `onemap grade`, `onemap grading params`, `... maintain`."""
    await seed_gas_unit(empty_db.database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [f"CH4-1,{(now - timedelta(seconds=40 - i)).isoformat()},{v}"
            for i, v in enumerate([1.0, 2.0, 55.0])]  # fmt: skip
    csv = tmp_path / "readings.csv"
    csv.write_text("point,ts,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = await asyncio.to_thread(_cli, empty_db, "readings", "import", str(csv), "--batch", "2")
    assert out.returncode == 0, out.stderr
    assert "stored 3 readings (0 already there)" in out.stderr
    again = await asyncio.to_thread(_cli, empty_db, "readings", "import", str(csv))
    assert "stored 0 readings (3 already there)" in again.stderr
    out = await asyncio.to_thread(_cli, empty_db, "grade")
    assert out.returncode == 0, out.stderr
    assert "graded 1 units" in out.stderr
    out = await asyncio.to_thread(_cli, empty_db, "grading", "params")
    assert json.loads(out.stdout)["version"] == 1
    out = await asyncio.to_thread(_cli, empty_db, "readings", "maintain")
    assert out.returncode == 0 and "partitions:" in out.stderr
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        level = await conn.fetchval("SELECT current_level FROM risk_units WHERE code = 'GAS1'")
        alarms = await conn.fetchval("SELECT count(*) FROM alarms WHERE ended_at IS NULL")
    finally:
        await conn.close()
    # the last reading (55 %LEL) is a level-1 alarm; the pressure point never reported
    assert (level, alarms) == ("large", 1)
