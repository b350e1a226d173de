"""`onemap events import`: the POST bodies from a file, all or nothing, idempotent, regraded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.errors import BadRequest
from api.importer import import_file
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client, role_headers
from tests.http.test_events_api import box, seed

NOW = datetime.now(UTC).replace(microsecond=0)
LOCAL = NOW.astimezone(ZoneInfo("Asia/Shanghai"))


@dataclass
class Ran:
    """What a command printed and its exit code."""

    returncode: int
    stdout: str
    stderr: str


def cli(settings: Settings, *args: str) -> Ran:
    """Run `onemap ...` on the settings' database, in this process (in a thread of its own,
    so the command's asyncio.run does not meet the test's loop)."""

    def run() -> Ran:
        env = {"ONEMAP_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
        result = CliRunner().invoke(app, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    """One JSON object a line."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def array(path: Path, records: list[dict[str, Any]]) -> Path:
    """A JSON array."""
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), "utf-8")
    return path


def counts(stdout: str) -> list[str]:
    """The numbers of the summary table's row: records, inserted, unchanged, rejected, units."""
    kinds = ("hidden_hazards", "weather_warnings", "special_periods", "accidents")
    (line,) = [ln for ln in stdout.splitlines() if "│" in ln and ln.split("│")[1].strip() in kinds]
    return [c.strip() for c in line.split("│")[2:7]]


async def rows(settings: Settings, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as dicts."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def levels(settings: Settings) -> dict[str, str | None]:
    """The levels the last regrade wrote on the units (what the map shows)."""
    got = await rows(settings, "SELECT code, current_level FROM risk_units")
    return {r["code"]: r["current_level"] for r in got}


HAZARDS = [
    {"code": "HH-A", "name": "管道腐蚀", "risk_unit": "IN", "severity": "major",
     "due_date": (NOW + timedelta(days=30)).date().isoformat(), "note": "巡检发现"},
    {"code": "HH-B", "name": "blocked drain", "risk_unit": "OUT", "severity": "general",
     "reported_at": (NOW - timedelta(days=3)).isoformat()},
]  # fmt: skip
WARNINGS = [
    {"code": "W-RAIN", "type": "rainstorm", "colour": "orange", "geometry": box(109.1, 34.2),
     "valid_from": (NOW - timedelta(hours=1)).isoformat(),
     "valid_to": (NOW + timedelta(hours=6)).isoformat()},
]  # fmt: skip
PERIODS = [
    {"code": "SP-HOLIDAY", "name": "国庆", "starts_at": (NOW - timedelta(hours=2)).isoformat(),
     "ends_at": (NOW + timedelta(days=2)).isoformat()},
]  # fmt: skip
ACCIDENTS = [
    {"code": "ACC-1", "name": "管道泄漏", "risk_unit": "OUT", "grade": "large",
     "occurred_at": (NOW - timedelta(days=20)).isoformat(), "deaths": 3},
]  # fmt: skip


async def test_each_kind_imported_and_regraded(empty_db: Settings, tmp_path: Path) -> None:
    """Each kind from a real file: stored as the API stores it, and the units' levels move."""
    await seed(empty_db)
    assert cli(empty_db, "grade").returncode == 0
    assert await levels(empty_db) == {"IN": "low", "OUT": "low"}

    r = cli(empty_db, "events", "import", str(ndjson(tmp_path / "hh.ndjson", HAZARDS)),
            "--kind", "hidden_hazards")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ["2", "2", "0", "0", "2"]
    assert await levels(empty_db) == {"IN": "large", "OUT": "low"}  # F1: an open major hazard
    log = await rows(empty_db, "SELECT h.code, e.from_status, e.to_status, e.actor, e.note, "
                     "h.source FROM hidden_hazard_events e JOIN hidden_hazards h "
                     "ON h.id = e.hazard_id ORDER BY h.code")  # fmt: skip
    user = log[0]["actor"]
    assert user.startswith("cli:")
    assert log == [
        {"code": "HH-A", "from_status": None, "to_status": "reported", "actor": user,
         "note": "巡检发现", "source": "import:hh.ndjson"},
        {"code": "HH-B", "from_status": None, "to_status": "reported", "actor": user,
         "note": None, "source": "import:hh.ndjson"},
    ]  # fmt: skip

    r = cli(empty_db, "events", "import", str(array(tmp_path / "w.json", WARNINGS)),
            "--kind", "weather_warnings")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ["1", "1", "0", "0", "1"]  # only OUT lies inside
    assert await levels(empty_db) == {"IN": "large", "OUT": "general"}  # F3: orange, relevant

    r = cli(empty_db, "events", "import", str(array(tmp_path / "p.json", PERIODS)),
            "--kind", "special_periods")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ["1", "1", "0", "0", "2"]  # citywide: every unit

    r = cli(empty_db, "events", "import", str(ndjson(tmp_path / "a.ndjson", ACCIDENTS)),
            "--kind", "accidents")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ["1", "1", "0", "0", "1"]
    assert "OUT: general -> major" in r.stdout  # F3 + F4: two of F1-F4 fired (F5)
    assert await levels(empty_db) == {"IN": "large", "OUT": "major"}

    async with app_client(empty_db, (await role_headers(empty_db))["viewer"]) as client:
        grade = (await client.get("/risk-units/OUT/grade")).json()
        assert [f["code"] for f in grade["floors"] if f["fired"]] == ["F0", "F3", "F4", "F5"]
        assert [f["code"] for f in grade["factors"]] == [
            "hidden_general", "weather", "special_period", "accident_large"]  # fmt: skip
        hazard = (await client.get("/hidden-hazards/HH-A")).json()
        assert (hazard["status"], hazard["open"], hazard["risk_unit"]) == ("reported", True, "IN")

    # a retry of every file: all unchanged, nothing written, no regrade
    before = await rows(empty_db, "SELECT count(*) AS n FROM audit_log")
    for name, kind in (("hh.ndjson", "hidden_hazards"), ("w.json", "weather_warnings"),
                       ("p.json", "special_periods"), ("a.ndjson", "accidents")):  # fmt: skip
        r = cli(empty_db, "events", "import", str(tmp_path / name), "--kind", kind)
        assert r.returncode == 0, r.stderr
        n = str(len(json.loads((tmp_path / name).read_text())) if name.endswith(".json")
                else len((tmp_path / name).read_text().splitlines()))  # fmt: skip
        assert counts(r.stdout) == [n, "0", n, "0", "0"]
    assert await rows(empty_db, "SELECT count(*) AS n FROM audit_log") == before
    assert await rows(empty_db, "SELECT count(*) AS n FROM hidden_hazard_events") == [{"n": 2}]


async def test_bad_rows_write_nothing(empty_db: Settings, tmp_path: Path) -> None:
    """Any bad record refuses the file: each bad one listed by row and field, nothing stored."""
    await seed(empty_db)
    records = [
        HAZARDS[0],
        {**HAZARDS[1], "risk_unit": "NOPE"},
        {"code": "HH-C", "name": "x", "risk_unit": "IN", "severity": "tiny"},
        {"code": "HH-D", "name": "later", "risk_unit": "IN", "severity": "general",
         "reported_at": (NOW + timedelta(days=1)).isoformat()},
        {"name": "no code", "risk_unit": "IN", "severity": "general"},
        {**HAZARDS[0], "name": "same code, other name"},
    ]  # fmt: skip
    r = cli(empty_db, "events", "import", str(array(tmp_path / "bad.json", records)),
            "--kind", "hidden_hazards")  # fmt: skip
    assert r.returncode == 1
    assert "5 of 6 record(s) rejected, nothing was written" in r.stderr
    table = [[c.strip() for c in ln.split("│")[1:4]] for ln in r.stderr.splitlines()
             if ln.count("│") == 4 and ln.split("│")[1].strip().isdigit()]  # fmt: skip
    assert table == [
        ["3", "severity", "Input should be 'general', 'large' or 'major'"],
        ["2", "risk_unit", "no risk unit with code 'NOPE'"],
        ["4", "reported_at", "reported_at is in the future"],
        ["5", "code", "an import needs a code (a retry is matched by it)"],
        ["6", "code", "'HH-A' is also in row 1, with other content"],
    ]
    assert await rows(empty_db, "SELECT count(*) AS n FROM hidden_hazards") == [{"n": 0}]
    assert await rows(empty_db, "SELECT count(*) AS n FROM hidden_hazard_events") == [{"n": 0}]
    assert await rows(empty_db, "SELECT count(*) AS n FROM event_fingerprints") == [{"n": 0}]
    # NDJSON rows are line numbers; a line that is not JSON refuses the file
    path = tmp_path / "broken.ndjson"
    path.write_text(json.dumps(ACCIDENTS[0]) + "\n\n{not json\n", "utf-8")
    r = cli(empty_db, "events", "import", str(path), "--kind", "accidents")
    assert r.returncode == 1 and "line 3 is not JSON" in r.stderr
    r = cli(empty_db, "events", "import", str(path), "--kind", "readings")
    assert r.returncode == 2 and "unknown kind" in r.stderr


async def test_retry_and_conflict(empty_db: Settings, tmp_path: Path) -> None:
    """Same content in another time-zone spelling is unchanged; other content is refused.

    A record sent to the POST route and then imported is also unchanged: both go
    through the same service and fingerprint.
    """
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        posted = await client.post("/accidents", json=ACCIDENTS[0])
        assert posted.status_code == 201, posted.text
    local = {**ACCIDENTS[0], "occurred_at": (LOCAL - timedelta(days=20)).isoformat()}
    assert local["occurred_at"] != ACCIDENTS[0]["occurred_at"]
    second = {**ACCIDENTS[0], "code": "ACC-2", "grade": "general"}
    r = cli(empty_db, "events", "import", str(ndjson(tmp_path / "a.ndjson", [local, second])),
            "--kind", "accidents")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == ["2", "1", "1", "0", "1"]
    clash = [{**second, "deaths": 4}, {**ACCIDENTS[0], "code": "ACC-3"}]
    r = cli(empty_db, "events", "import", str(ndjson(tmp_path / "c.ndjson", clash)),
            "--kind", "accidents")  # fmt: skip
    assert r.returncode == 1
    assert "'ACC-2' is already stored with other content" in r.stderr
    got = await rows(empty_db, "SELECT code, deaths, source FROM accidents ORDER BY code")
    assert got == [{"code": "ACC-1", "deaths": 3, "source": "api:test-integrator"},
                   {"code": "ACC-2", "deaths": 3, "source": "import:a.ndjson"}]  # fmt: skip
    # a record stored by the generic importer (the demo) has no fingerprint: refused, not guessed
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await conn.execute(
            "INSERT INTO accidents (code, name, grade, occurred_at, geom) VALUES "
            "('OLD', 'old', 'general', now(), 'SRID=4326;POINT(108.9 34.2)')"
        )
    finally:
        await conn.close()
    r = cli(empty_db, "events", "import",
            str(ndjson(tmp_path / "o.ndjson", [{**ACCIDENTS[0], "code": "OLD"}])),
            "--kind", "accidents")  # fmt: skip
    assert r.returncode == 1 and "cannot be compared" in r.stderr


@pytest.mark.parametrize("layer", ["hidden_hazards", "weather_warnings", "special_periods",
                                   "accidents"])  # fmt: skip
async def test_generic_import_refuses_event_layers(
    empty_db: Settings, tmp_path: Path, layer: str
) -> None:
    """The generic import (function and HTTP) points to the event import instead."""
    path = tmp_path / "x.csv"
    path.write_text("code,name\nX,x\n", "utf-8")
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        with pytest.raises(BadRequest) as info:
            await import_file(conn, path, layer, settings=empty_db)
    finally:
        await conn.close()
    assert f"onemap events import FILE --kind {layer}" in info.value.detail
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["admin"]) as client:
        r = await client.post(f"/layers/{layer}/import",
                              files={"file": ("x.csv", path.read_bytes(), "text/csv")})  # fmt: skip
        assert r.status_code == 400 and "onemap events import" in r.json()["detail"]
        assert r.headers["content-type"] == "application/problem+json"


def test_cli_generic_import_refused(empty_db: Settings, tmp_path: Path) -> None:
    """`onemap import --layer accidents` says where accidents go."""
    path = tmp_path / "x.csv"
    path.write_text("code,name\nX,x\n", "utf-8")
    env = {**os.environ, "ONEMAP_DATABASE_URL": empty_db.database_url}
    r = subprocess.run([sys.executable, "-m", "api.cli", "import", str(path), "--layer",
                        "accidents"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                       check=False)  # fmt: skip
    assert r.returncode == 1 and "onemap events import" in r.stderr


async def test_future_warning_counts_from_valid_from(empty_db: Settings) -> None:
    """valid_from is a forecast time, not held to the clock: a warning issued for tomorrow
    is stored, moves nothing now, and counts once it is valid (graded at as_of)."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    start = NOW + timedelta(days=1)
    async with app_client(empty_db, headers["integrator"]) as client:
        await client.post("/grading/run", headers=headers["admin"])
        r = await client.post("/weather-warnings", json={
            "code": "W-TOMORROW", "type": "heat", "colour": "red", "geometry": box(108.9, 34.2),
            "valid_from": start.isoformat(), "valid_to": (start + timedelta(hours=12)).isoformat(),
        })  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["regrade"]["level_changes"] == []
        now = (await client.get("/risk-units/IN/grade")).json()
        assert now["level"] == "low"
        as_of = (start + timedelta(hours=1)).isoformat()
        later = (await client.get("/risk-units/IN/grade", params={"as_of": as_of})).json()
        assert (later["level"], later["decided_by"]) == ("large", "F3")
