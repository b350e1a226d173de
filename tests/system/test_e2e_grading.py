"""End to end: an alarm pushed as readings changes a unit's level; history, SSE, webhooks see it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api.grading import engine, store
from api.main import create_app
from api.notifications.webhooks import verify
from api.routers import grade_events
from api.settings import Settings
from tests.conftest import role_headers
from tests.support.dbutil import settings_for
from tests.support.grading_db import seed_gas_unit
from tests.support.servers import Receiver, serve

WAIT = 30.0  # a guard against hanging, not a speed assertion


async def read_events(response: httpx.Response, out: list[dict[str, Any]]) -> None:
    """Collect `event: grade` frames from an SSE response."""
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if event.get("event") == "grade":
                out.append(json.loads(event["data"]))
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


async def stop(task: asyncio.Task[None]) -> None:
    """Stop a reader task (its stream is closed under it)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
        await task


async def until(predicate: Any, what: str) -> None:
    """Wait (bounded) until predicate() holds."""
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 - polling what other tasks fill in
            await asyncio.sleep(0.05)
    assert predicate(), what


def readings(*rows: tuple[str, datetime, float]) -> dict[str, Any]:
    """A readings batch."""
    return {"readings": [{"point": p, "ts": t.isoformat(), "value": v} for p, t, v in rows]}


async def test_alarm_to_level_change_history_sse_and_webhook(empty_db: Settings) -> None:
    """Readings -> alarm -> level change -> grade_history (explained) -> SSE -> signed webhook."""
    await seed_gas_unit(empty_db.database_url)
    settings = settings_for(empty_db, empty_db.database_url.rsplit("/", 1)[1],
                            webhook_backoff_s=0.2, grading_interval_s=0)  # fmt: skip
    headers = await role_headers(settings)
    receiver = Receiver(statuses=[500])  # the first delivery fails and is retried
    now = datetime.now(UTC).replace(microsecond=0)
    async with (
        serve(receiver) as hook_url,
        serve(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, timeout=WAIT) as client,
    ):
        r = await client.post(
            "/webhooks",
            headers=headers["admin"],
            json={"name": "command-centre", "url": f"{hook_url}/onemap", "min_level": "large"},
        )
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]
        events: list[dict[str, Any]] = []
        async with client.stream("GET", "/events/grades", headers=headers["viewer"]) as sse:
            assert sse.headers["content-type"].startswith("text/event-stream")
            reader = asyncio.create_task(read_events(sse, events))
            # normal readings: the points come online and the unit gets its first grade
            r = await client.post(
                "/monitoring/readings",
                headers=headers["integrator"],
                json=readings(
                    ("CH4-1", now - timedelta(seconds=30), 1.0),
                    ("P-1", now - timedelta(seconds=30), 0.4),
                ),
            )
            assert r.status_code == 200, r.text
            await until(lambda: len(events) == 1, "the first grade was streamed")
            assert (events[0]["unit"], events[0]["from"], events[0]["to"]) == (
                "GAS1", None, "low")  # fmt: skip
            # methane at 60 %LEL: a level-1 alarm; F2 lifts the unit to large
            r = await client.post(
                "/monitoring/readings",
                headers=headers["integrator"],
                json=readings(("CH4-1", now - timedelta(seconds=10), 60.0)),
            )
            out = r.json()
            assert out["alarms"]["opened"] == 1, str(out)
            assert [(c["code"], c["from"], c["to"]) for c in out["regrade"]["level_changes"]
                    ] == [("GAS1", "low", "large")]  # fmt: skip
            await until(lambda: len(events) == 2, "the level change was streamed")
            change = events[1]
            assert (change["unit"], change["from"], change["to"], change["colour"],
                    change["decided_by"]) == (
                "GAS1", "low", "large", "orange", "F2")  # fmt: skip
            assert change["factors"] == ["alarm_highest"]
            await stop(reader)
        # the history holds the change with its explanation
        history = (await client.get("/risk-units/GAS1/grade/history",
                                    headers=headers["viewer"])).json()["items"]  # fmt: skip
        top = history[0]
        assert (top["id"], top["from"], top["to"], top["param_version"]) == (
            change["id"], "low", "large", 1)  # fmt: skip
        x = top["explanation"]
        assert (x["level"], x["decided_by"], x["previous_level"], x["change"]) == (
            "large", "F2", "low", "up")  # fmt: skip
        (alarm,) = x["factors"][0]["records"]
        assert (alarm["point"], alarm["level"]) == ("CH4-1", 1)
        assert x["floors"][2] == {"code": "F2", "fired": True, "level": "large",
                                  "reason": "an active level-1 alarm",
                                  "reason_i18n": {"zh": "存在一级（红色）报警",
                                                  "en": "an active level-1 alarm"},
                                  "records": [alarm["id"]]}  # fmt: skip
        # the webhook (min_level large) got the change, signed; the first try failed
        await until(lambda: any(s == 200 for _, _, s in receiver.requests), "delivered")
        assert [s for _, _, s in receiver.requests] == [500, 200]
        hdrs, body, _ = receiver.requests[-1]
        assert verify(secret, hdrs["x-onemap-timestamp"], body, hdrs["x-onemap-signature"])
        assert not verify("wrong-secret-0000000", hdrs["x-onemap-timestamp"], body,
                          hdrs["x-onemap-signature"])  # fmt: skip
        payload = json.loads(body)
        assert [(e["unit"], e["to"]) for e in payload["events"]] == [("GAS1", "large")]
        # the dispatcher records the delivery just after the receiver answered
        async with asyncio.timeout(WAIT):
            while True:
                log = (await client.get("/webhooks/command-centre/deliveries",
                                        headers=headers["admin"])).json()  # fmt: skip
                if log and log[0]["status"] != "pending":
                    break
                await asyncio.sleep(0.05)
        assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 2)]
        assert [a["http_status"] for a in log[0]["attempts_log"]] == [500, 200]


async def test_changes_from_another_process_reach_the_stream(
    empty_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regrade committed elsewhere (another worker, the CLI) is streamed; resume replays."""
    await seed_gas_unit(empty_db.database_url)
    settings = settings_for(empty_db, empty_db.database_url.rsplit("/", 1)[1],
                            grading_interval_s=0)  # fmt: skip
    headers = await role_headers(settings)
    async with (
        serve(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, timeout=WAIT) as client,
    ):
        events: list[dict[str, Any]] = []
        async with client.stream("GET", "/events/grades", headers=headers["viewer"]) as sse:
            reader = asyncio.create_task(read_events(sse, events))
            conn = await asyncpg.connect(settings.database_url)
            try:
                params = await store.active_params(conn)
                await engine.regrade(conn, params, datetime.now(UTC), trigger="test")
            finally:
                await conn.close()
            await until(lambda: len(events) == 1, "a change made outside the server")
            await stop(reader)
        assert (events[0]["unit"], events[0]["to"]) == ("GAS1", "low")
        # resume: everything after id 0 is replayed first
        resumed: list[dict[str, Any]] = []
        async with client.stream("GET", "/events/grades", params={"since": 0},
                                 headers=headers["viewer"]) as sse:  # fmt: skip
            reader = asyncio.create_task(read_events(sse, resumed))
            await until(lambda: len(resumed) == 1, "the backlog was replayed")
            await stop(reader)
        assert resumed[0]["id"] == events[0]["id"]
        # a backlog longer than one page is replayed whole, in order
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(
                "INSERT INTO grade_history (risk_unit_id, as_of, from_level, to_level, r, r0,"
                " param_version, explanation, facts) SELECT risk_unit_id, as_of, from_level,"
                " to_level, r, r0, param_version, explanation, facts"
                " FROM grade_history, generate_series(1, 4)"
            )
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM grade_history ORDER BY id")]
        finally:
            await conn.close()
        monkeypatch.setattr(grade_events, "BACKLOG_PAGE", 2)
        replayed: list[dict[str, Any]] = []
        async with client.stream("GET", "/events/grades", params={"since": 0},
                                 headers=headers["viewer"]) as sse:  # fmt: skip
            reader = asyncio.create_task(read_events(sse, replayed))
            await until(lambda: len(replayed) == 5, "the paged backlog was replayed")
            await stop(reader)
        assert [e["id"] for e in replayed] == ids
        assert (await client.get("/events/grades")).status_code == 401
