"""Every 401 carries WWW-Authenticate (RFC 9110 §11.6.1), whatever refused the credential.

No credential, a junk key, a key-shaped key nobody issued, a junk or expired
bearer token and a scheme onemap does not take are refused with 401 on every
route family: the catalogue, OGC API Features, vector tiles (the fast path and
TileJSON), the style, the raster routes (titiler), the SSE stream, the analysis
fast path and the login itself.
"""

from __future__ import annotations

from api.auth.roles import Role
from api.auth.tokens import issue_token
from api.settings import Settings
from tests.conftest import app_client

ROUTES = [
    ("GET", "/layers", None),
    ("GET", "/layers/risk_units/features", None),
    ("GET", "/ogc", None),
    ("GET", "/ogc/collections/risk_units/items", None),
    ("GET", "/tiles/risk_units/12/3335/1632.mvt", None),
    ("GET", "/tiles/onemap/12/3335/1632.mvt", None),
    ("GET", "/tiles/onemap/tilejson.json", None),
    ("GET", "/styles/onemap.json", None),
    ("GET", "/raster/risk/info", None),
    ("GET", "/raster/risk/tiles/WebMercatorQuad/12/3335/1632.png", None),
    ("GET", "/raster/risk/WebMercatorQuad/tilejson.json", None),
    ("GET", "/events/grades", None),
    ("POST", "/analysis/nearest", {"point": [108.94, 34.26], "layer": "shelters", "k": 2}),
    ("POST", "/analysis/buffer", {"geometry": {"type": "Point", "coordinates": [108.94, 34.26]},
                                  "distance_m": 100, "layers": ["shelters"]}),
    ("GET", "/auth/me", None),
]  # fmt: skip


def _credentials(settings: Settings) -> list[dict[str, str]]:
    expired = issue_token(settings.secret_key, "ghost", Role.admin, ttl_s=-300)
    return [
        {},
        {"X-API-Key": "bogus"},
        {"X-API-Key": "om_000000000000_nope"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer om_000000000000_nope"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ]


async def test_every_401_carries_www_authenticate(empty_db: Settings) -> None:
    """Each route family x each bad credential: 401 problem JSON with a Bearer challenge."""
    wrong: list[str] = []
    async with app_client(empty_db) as client:
        for headers in _credentials(empty_db):
            for method, path, body in ROUTES:
                r = await client.request(method, path, json=body, headers=headers)
                if r.status_code != 401:
                    wrong.append(f"{method} {path} {headers}: {r.status_code} {r.text[:120]}")
                    continue
                assert r.headers["content-type"] == "application/problem+json"
                if not r.headers.get("www-authenticate", "").startswith("Bearer"):
                    wrong.append(f"{method} {path} {headers}: no WWW-Authenticate")
    assert not wrong, "\n".join(wrong)


async def test_a_failed_login_carries_www_authenticate(empty_db: Settings) -> None:
    """POST /auth/token with a wrong password is a 401 like any other."""
    async with app_client(empty_db) as client:
        r = await client.post("/auth/token", json={"username": "nobody", "password": "wrong"})
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
