"""Hostile uploads (HTTP import and the CLI core): refused before harm, nothing read outside
the upload, no outbound connection (a listener on 127.0.0.1 must see none).

tests/http/test_import_http.py covers zip limits, traversal, symlinks, nested archives and
formats by content; this adds what would make GDAL or an XML parser reach out.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from api.errors import BadRequest
from api.importer import import_file
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.http.test_import_http import POINT, PROPS
from tests.support import files as F


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def url(self, path: str) -> str:
        """An http URL on the listener."""
        return f"http://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """The listener; the test fails if anything connected to it."""
    lsn = Listener()
    probe = socket.create_connection(("127.0.0.1", lsn.port), timeout=1)  # it does listen
    probe.close()
    for _ in range(50):
        if lsn.connections:
            break
        threading.Event().wait(0.02)
    assert lsn.connections == 1
    lsn.connections = 0
    yield lsn
    threading.Event().wait(0.3)  # anything late still shows up
    lsn.close()
    assert lsn.connections == 0, "the import made an outbound connection"


def _secret(tmp: Path) -> Path:
    """A CSV outside the upload that a VRT would make GDAL read."""
    return F.csv_file(tmp / "secret.csv", ["code", "name", "kind", "lon", "lat"],
                      [["LEAKED", "secret", "radio", 108.9, 34.2]])  # fmt: skip


def _vrt(source: str) -> bytes:
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="data"><SrcDataSource>{source}</SrcDataSource>'
        '<GeometryType>wkbPoint</GeometryType><GeometryField encoding="PointFromColumns" '
        'x="lon" y="lat"/></OGRVRTLayer></OGRVRTDataSource>'
    ).encode()


def _xxe(url: str) -> bytes:
    return (
        '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY remote SYSTEM "' + url + '">'
        '<!ENTITY local SYSTEM "file:///etc/passwd">]>'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&remote;&local;</name>'
        "<Point><coordinates>108.9,34.2</coordinates></Point></Placemark></kml>"
    ).encode()


def _laughs() -> bytes:
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE gml [' + "".join(ents) + "]>"
        '<gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml">&lol9;'
        "</gml:FeatureCollection>"
    ).encode()


_KEYS: dict[str, dict[str, str]] = {}


async def _upload(settings: Settings, data: bytes, name: str, **form: str) -> httpx.Response:
    if settings.database_url not in _KEYS:
        _KEYS[settings.database_url] = (await role_headers(settings))["editor"]
    headers = _KEYS[settings.database_url]
    async with app_client(settings) as client:
        return await client.post(
            "/layers/broadcasts/import",
            files={"file": (name, data, "application/octet-stream")},
            data=form,
            headers=headers,
        )


async def _rows(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM broadcasts")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("case", "name", "status", "message"),
    [
        ("vrt_vsicurl", "layer.geojson", 415, "XML document"),
        ("vrt_local_file", "layer.geojson", 415, "XML document"),
        ("vrt_with_bom", "layer.geojson", 415, "XML document"),
        ("kml_xxe", "layer.kml", 415, "XML document"),
        ("gml_billion_laughs", "layer.gml", 415, "XML document"),
        ("zip_vrt_as_shp", "layer.zip", 415, "not a shapefile .shp part"),
        ("zip_vrt_as_dbf", "layer.zip", 415, "not a dBase table"),
        ("zip_vrt_only", "layer.zip", 415, "holds no shapefile"),
    ],
)
async def test_uploads_that_would_reach_out(
    empty_db: Settings, tmp_path: Path, listener: Listener,
    case: str, name: str, status: int, message: str,
) -> None:  # fmt: skip
    """Refused by content before GDAL or an XML parser sees them; nothing read or fetched."""
    secret = _secret(tmp_path)
    remote = "/vsicurl/" + listener.url("x.onemap-no-network")
    shp = F.shapefile_parts(tmp_path, [PROPS], [POINT])
    data = {
        "vrt_vsicurl": lambda: _vrt(remote),
        "vrt_local_file": lambda: _vrt(str(secret)),
        "vrt_with_bom": lambda: b"\xef\xbb\xbf  \n" + _vrt(remote),
        "kml_xxe": lambda: _xxe(listener.url("xxe")),
        "gml_billion_laughs": _laughs,
        "zip_vrt_as_shp": lambda: F.zip_of(tmp_path / "a.zip", {
            "p.shp": _vrt(remote), "p.shx": shp[".shx"], "p.dbf": shp[".dbf"]}).read_bytes(),
        "zip_vrt_as_dbf": lambda: F.zip_of(tmp_path / "b.zip", {
            "p.shp": shp[".shp"], "p.shx": shp[".shx"], "p.dbf": _vrt(str(secret))}).read_bytes(),
        "zip_vrt_only": lambda: F.zip_of(tmp_path / "c.zip", {"p.vrt": _vrt(remote)}).read_bytes(),
    }[case]()  # fmt: skip
    r = await _upload(empty_db, data, name)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert message in r.json()["detail"]
    assert "LEAKED" not in r.text and "root:" not in r.text
    assert await _rows(empty_db) == 0


async def test_crs_that_names_a_url_is_not_fetched(
    empty_db: Settings, tmp_path: Path, listener: Listener
) -> None:
    """A `crs` form field or GeoJSON crs member holding a URL is a 400, never a request."""
    good = F.geojson(tmp_path / "ok.geojson", [F.feature(PROPS, POINT)]).read_bytes()
    for crs in (listener.url("crs.wkt"), "/vsicurl/" + listener.url("crs.wkt"),
                f"@{listener.url('grid')}"):  # fmt: skip
        r = await _upload(empty_db, good, "ok.geojson", crs=crs)
        assert r.status_code == 400, (crs, r.text)
    doc = orjson.loads(good)
    for crs_member in (
        {"type": "name", "properties": {"name": listener.url("crs")}},
        {"type": "link", "properties": {"href": listener.url("crs"), "type": "ogcwkt"}},
    ):
        doc["crs"] = crs_member
        r = await _upload(empty_db, orjson.dumps(doc), "crs.geojson")
        assert r.status_code == 400, (crs_member, r.text)
    assert await _rows(empty_db) == 0


async def test_cli_core_refuses_gdal_virtual_paths(
    empty_db: Settings, tmp_path: Path, listener: Listener
) -> None:
    """`onemap import /vsicurl/...` (the CLI's core): no such file, nothing fetched."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        for path in (
            "/vsicurl/" + listener.url("a.geojson"),
            "/vsicurl_streaming/" + listener.url("a.geojson"),
            "/vsizip//vsicurl/" + listener.url("a.zip"),
            listener.url("a.geojson"),
        ):
            with pytest.raises(BadRequest, match="no such file"):
                await import_file(conn, Path(path), "broadcasts", settings=empty_db)
        vrt = tmp_path / "disguised.geojson"
        vrt.write_bytes(_vrt("/vsicurl/" + listener.url("x.onemap-no-network")))
        with pytest.raises(Exception, match="XML document"):
            await import_file(conn, vrt, "broadcasts", settings=empty_db)
    finally:
        await conn.close()
    assert await _rows(empty_db) == 0
