"""GET /organisations, /organisations/{code} and /stats/areas over the Xi'an demo city."""

from __future__ import annotations

from api.settings import Settings
from geodata.organisations import CATEGORY_DEPARTMENTS, areas
from tests.conftest import app_client


async def test_list_and_filter(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """Every role reads the list; kind and parent filter it; bad filters are 400 problems."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        everything = (await client.get("/organisations")).json()
        assert len(everything) == 28 + 13 + 7 + 204
        kinds = [o["kind"] for o in everything]
        assert kinds == sorted(kinds, key=["department", "district", "zone", "town"].index)
        deps = (await client.get("/organisations", params={"kind": "department"})).json()
        assert len(deps) == 28 and {"YJJ", "ZJJ", "CGJ", "SWJ", "XFZD"} <= {o["code"] for o in deps}
        assert all(o["bbox"] is None and not o["synthetic"] for o in deps)
        zones = (await client.get("/organisations", params={"kind": "zone"})).json()
        assert {o["code"] for o in zones} == {"GXQ", "JKQ", "QJXQ", "GWQ", "HTJD", "CBQ", "XXXQ"}
        assert all(o["synthetic"] for o in zones)
        yanta = (
            await client.get("/organisations", params={"kind": "town", "parent": "610113"})
        ).json()
        assert len(yanta) == 8 and all(o["parent"] == "610113" for o in yanta)
        assert "小寨路街道" in {o["name"] for o in yanta}
        west, south, east, north = yanta[0]["bbox"]
        assert 108.8 < west < east < 109.1 and 34.1 < south < north < 34.3
        nothing = (await client.get("/organisations", params={"parent": "NOPE"})).json()
        assert nothing == []
        for params in ({"kind": "province"}, {"parent": ""}, {"colour": "red"}):
            r = await client.get("/organisations", params=params)
            assert r.status_code == 400, params
            assert r.headers["content-type"].startswith("application/problem+json")


async def test_one_organisation(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """A district with its real boundary, towns and table row; a department with its
    categories and no boundary; 404 for an unknown code."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        r = await client.get("/organisations/610113")
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        f = r.json()
        assert f["type"] == "Feature" and f["geometry"]["type"] == "MultiPolygon"
        p = f["properties"]
        assert p["name"] == "雁塔区" and p["kind"] == "district" and not p["synthetic"]
        assert len(p["children"]) == 8 and all(c["kind"] == "town" for c in p["children"])
        assert p["statistics"]["depots"] == 13 and p["statistics"]["stock"] == 40213
        assert p["statistics"]["printed_name"] == "雁塔"
        yjj = (await client.get("/organisations/YJJ")).json()
        assert yjj["geometry"] is None and yjj["properties"]["statistics"] is None
        assert yjj["properties"]["categories"] == sorted(
            c for c, d in CATEGORY_DEPARTMENTS.items() if d == "YJJ"
        )
        town = (await client.get("/organisations/GXQ001")).json()["properties"]
        assert town["parent"] == "GXQ" and town["parent_name"] == "西安高新技术产业开发区"
        missing = await client.get("/organisations/NOPE")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/organisations/" + "x" * 40)).status_code == 400


async def test_area_stats_beside_the_table(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """The 20 areas in the table's order; the live towns, depots, stock and (where legible)
    broadcasts equal the table's; the city totals are the seed's."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        r = await client.get("/stats/areas")
    assert r.status_code == 200
    doc = r.json()
    want = areas()
    assert [a["code"] for a in doc["areas"]] == [a.code for a in want]
    for got, a in zip(doc["areas"], want, strict=True):
        live, tab = got["live"], got["table"]
        assert live["towns"] == tab["towns"] == a.towns
        assert live["depots"] == tab["depots"] == a.depots
        assert live["stock"] == tab["stock"] == a.stock
        if a.broadcasts is not None:
            assert live["broadcasts"] == a.broadcasts
        assert live["residents"] > 0 and live["risk_units"] >= 0
        if live["depots"]:
            assert live["stock_per_1000_residents"] > 0
    assert doc["city"] == {"depots": 489, "stock": 325_966, "broadcasts": 2_248, "towns": 204}
    assert sum(a["live"]["broadcasts"] for a in doc["areas"]) == 2_248
    assert sum(a["live"]["city_reserve"] for a in doc["areas"]) == 325_966 - 175_014
