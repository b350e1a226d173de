"""Readings: non-finite values and far-future times in every accepted form: 400, nothing stored.

(tests/http/test_readings.py covers the JSON members one by one; this adds the bare JSON
tokens, the CSV and columnar forms, and times far ahead of the clock.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.http.test_readings import count, seed, ts

FAR = (datetime.now(UTC) + timedelta(days=1)).isoformat()
JSON = "application/json"
CSV = "text/csv"
GOOD = f'{{"point": "P-1", "ts": "{ts(0)}", "value": 0.4}}'


def one(ts_text: str, value: str) -> str:
    """A JSON batch: a good reading, then CH4-1 with this time and raw value token."""
    return f'{{"readings": [{GOOD}, {{"point": "CH4-1", "ts": "{ts_text}", "value": {value}}}]}}'


def columnar(value: str) -> str:
    """The columnar JSON form with this raw value token second."""
    return f'{{"points": ["P-1", "CH4-1"], "ts": ["{ts(0)}", "{ts(1)}"], "values": [1, {value}]}}'


def csv(ts_text: str, value: str) -> str:
    """A CSV batch: a good row, then CH4-1 with this time and value."""
    return f"point,ts,value\nP-1,{ts(0)},0.4\nCH4-1,{ts_text},{value}\n"


@pytest.mark.parametrize(
    ("ctype", "raw"),
    [
        (JSON, one(ts(1), "NaN")),
        (JSON, one(ts(1), "Infinity")),
        (JSON, one(ts(1), "-Infinity")),
        (JSON, one(ts(1), '"inf"')),
        (JSON, columnar("NaN")),
        (JSON, columnar("1e999")),
        (JSON, one(FAR, "1")),
        (JSON, one("9999-12-31T23:59:59+00:00", "1")),
        (CSV, csv(ts(1), "nan")),
        (CSV, csv(ts(1), "inf")),
        (CSV, csv(ts(1), "-Infinity")),
        (CSV, csv(FAR, "1")),
    ],
)  # fmt: skip
async def test_non_finite_or_future_readings_store_nothing(
    empty_db: Settings, ctype: str, raw: str
) -> None:
    """The whole batch is refused with a 400 problem; no reading, no batch, no state row."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        r = await client.post("/monitoring/readings", content=raw, headers={"content-type": ctype})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(empty_db, "SELECT count(*) FROM readings") == 0
    assert await count(empty_db, "SELECT count(*) FROM reading_batches") == 0
    assert await count(empty_db, "SELECT count(*) FROM monitoring_point_state") == 0
