"""The analysis fast path answers exactly what the documented routes answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.routers import analysis as routes
from api.settings import Settings
from tests.conftest import app_client, running_app
from tests.support import dbutil
from tests.support.city import O

POLY = {
    "type": "Polygon",
    "coordinates": [[[108.85, 34.25], [108.865, 34.25], [108.865, 34.26], [108.85, 34.26],
                     [108.85, 34.25]]],
}  # fmt: skip
REQUESTS: list[tuple[str, str, Any, dict[str, str]]] = [
    # (role, path, body or raw text, extra headers)
    ("analyst", "/analysis/buffer", {"point": O, "distance_m": 1000}, {}),
    ("analyst", "/analysis/nearest", {"point": O, "layer": "shelters", "k": 3}, {}),
    ("analyst", "/analysis/impact", {"geometry": POLY}, {}),
    ("analyst", "/analysis/overlay", {"layer": "risk_units", "with": {"layer": "districts"}}, {}),
    ("analyst", "/analysis/coverage", {"distance_m": 1500}, {}),
    (
        "analyst",
        "/analysis/nearest",
        {"feature": {"layer": "shelters", "code": "S3"}, "layer": "rescue_teams"},
        {},
    ),  # fmt: skip
    ("viewer", "/analysis/buffer", {"point": O, "distance_m": 10}, {}),
    ("none", "/analysis/buffer", {"point": O, "distance_m": 10}, {}),
    ("analyst", "/analysis/buffer", {"point": O, "distance_m": -1}, {}),
    ("analyst", "/analysis/buffer", {"point": O, "distance_m": 1e9}, {}),
    ("analyst", "/analysis/buffer", {"point": O, "distance_m": 10, "x": 1}, {}),
    ("analyst", "/analysis/buffer", '{"point": [108.9, NaN], "distance_m": 10}', {}),
    ("analyst", "/analysis/buffer", "not json", {}),
    ("analyst", "/analysis/buffer", {"point": O, "distance_m": 10}, {"content-type": "text/plain"}),
    ("analyst", "/analysis/nearest", {"point": O, "layer": "nope"}, {}),
    (
        "analyst",
        "/analysis/nearest",
        {"feature": {"layer": "shelters", "code": "NO"}, "layer": "shelters"},
        {},
    ),  # fmt: skip
    ("analyst", "/analysis/impact", {"point": O}, {}),
    (
        "analyst",
        "/analysis/buffer",
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[1, 1], [2, 2], [2, 1], [1, 2], [1, 1]]],
            },
            "distance_m": 5,
        },
        {},
    ),  # fmt: skip
    ("analyst", "/analysis/buffer", {"point": O, "distance_m": 10, "layers": ["x"] * 500_000}, {}),
    ("analyst", "/analysis/buffer?x=1", {"point": O, "distance_m": 10}, {}),
]


async def _answers(settings: Settings, headers: dict[str, dict[str, str]]) -> list[Any]:
    out = []
    async with app_client(settings) as client:
        for role, path, body, extra in REQUESTS:
            h = {**(headers.get(role) or {}), **extra}
            if isinstance(body, str):
                h.setdefault("content-type", "application/json")
                r = await client.post(path, content=body, headers=h)
            else:
                r = await client.post(path, json=body, headers=h)
            h2 = r.headers
            out.append(
                (path, r.status_code, h2.get("content-type"), r.content,
                 h2.get("www-authenticate"), h2.get("retry-after"))
            )  # fmt: skip
    return out


async def test_fast_path_and_routes_agree(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Successes and every kind of error: same status, type, headers and bytes either way."""
    name = city_db.database_url.rsplit("/", 1)[1]
    routed = dbutil.settings_for(Settings(environment="test"), name, analysis_fast_path=False)
    fast = await _answers(city_db, city_headers)
    slow = await _answers(routed, city_headers)
    assert [a[1] for a in fast] == [
        200, 200, 200, 200, 200, 200, 403, 401, 400, 400, 400, 400, 400, 400, 400, 404, 400,
        400, 413, 400,
    ]  # fmt: skip
    for a, b in zip(fast, slow, strict=True):
        assert a == b, a[0]


async def test_fast_path_serves_without_the_route(
    city_db: Settings, city_headers: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the routes' handlers broken, well-formed requests still succeed: the fast path
    served them; turned off, the same request reaches the (broken) route."""

    async def broken(*args: object) -> str:
        raise RuntimeError("route used")

    for module in (routes.buffer, routes.nearest):
        monkeypatch.setattr(module, "run", broken)
    async with app_client(city_db, city_headers["analyst"]) as client:
        r = await client.post("/analysis/nearest", json={"point": O, "layer": "shelters"})
        assert r.status_code == 200 and r.json()["numberReturned"] == 4
    name = city_db.database_url.rsplit("/", 1)[1]
    routed = dbutil.settings_for(Settings(environment="test"), name, analysis_fast_path=False)
    async with app_client(routed, city_headers["analyst"]) as client:
        with pytest.raises(RuntimeError, match="route used"):
            await client.post("/analysis/nearest", json={"point": O, "layer": "shelters"})


async def _chunks(data: bytes, size: int) -> Any:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_fast_path_reads_a_body_sent_in_pieces(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """A body arriving in several ASGI messages (chunked upload) gives the same answer as in
    one piece; past the cap in pieces it is the route's 413."""
    body = json.dumps({"point": O, "layer": "shelters", "k": 3}).encode()
    headers = {**city_headers["analyst"], "content-type": "application/json"}
    async with app_client(city_db, headers) as client:
        whole = await client.post("/analysis/nearest", content=body)
        pieces = await client.post("/analysis/nearest", content=_chunks(body, 7))
        assert whole.status_code == pieces.status_code == 200
        assert whole.content == pieces.content and whole.json()["numberReturned"] == 3
        cap = city_db.analysis_max_body_bytes
        big = b'{"point": [108.9, 34.2], "layer": "shelters", "k": 3, "x": "' + b"a" * cap + b'"}'
        r = await client.post("/analysis/nearest", content=_chunks(big, 4096))
        assert r.status_code == 413 and r.json()["cap"] == "analysis_max_body_bytes"


async def test_analyses_run_on_the_read_pool(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Analyses take their connection from the read pool (no reset round trip on release):
    with the main pool closed, a well-formed analysis by a known key is still answered."""
    async with running_app(city_db) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=city_headers["analyst"]
        ) as client:
            body = {"point": O, "layer": "shelters", "k": 2}
            first = await client.post("/analysis/nearest", json=body)  # the key is now cached
            assert first.status_code == 200
            await app.state.pool.close()
            again = await client.post("/analysis/nearest", json=body)
            assert again.status_code == 200 and again.content == first.content
            assert app.state.read_pool.get_size() >= 1
