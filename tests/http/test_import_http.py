"""POST /layers/{layer}/import and `onemap import`: roles, counts, and every hostile upload."""

from __future__ import annotations

import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import shapely

from api.importer.archive import extract_shapefile
from api.importer.sniff import sniff
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client, role_headers
from tests.support import files as F

POINT = shapely.Point(108.95, 34.25)
PROPS = {"code": "B1", "name": "广播", "kind": "radio"}


def _private_uploads(settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    """Settings whose uploads and import work files go to a directory of this test's own
    (other processes' imports in the shared temp dir cannot disturb the check)."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    return settings.model_copy(update={"upload_dir": uploads}), uploads


def _leftovers(uploads: Path) -> list[str]:
    """What the importer left in its upload directory (it must all be gone after a request)."""
    return sorted(p.name for p in uploads.iterdir())


async def _post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "upload.bin",
    layer: str = "broadcasts",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        f"/layers/{layer}/import",
        files={"file": (filename, data, "application/octet-stream")},
        data=fields,
        headers=headers,
    )


def _geojson_bytes(tmp: Path, feats: list[dict[str, Any]] | None = None) -> bytes:
    return F.geojson(tmp / "g.geojson", feats or [F.feature(PROPS, POINT)]).read_bytes()


async def _count(settings: Settings, table: str) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # fixed test names
    finally:
        await conn.close()


async def test_roles_counts_and_audit(empty_db: Settings, tmp_path: Path) -> None:
    """401 without a credential, 403 for a viewer; an editor gets the counts; it is audited."""
    headers = await role_headers(empty_db)
    body = _geojson_bytes(tmp_path)
    async with app_client(empty_db) as client:
        r = await _post(client, {}, body, "点.geojson")
        assert r.status_code == 401
        r = await _post(client, headers["viewer"], body, "点.geojson")
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        r = await _post(client, headers["editor"], body, "点.geojson")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "layer": "broadcasts",
            "inserted": 1,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
            "errors": [],
            "total": 1,
            "format": "geojson",
            "crs": "EPSG:4326",
            "source": "import:点.geojson",
            "ignored_columns": [],
        }
        r = await _post(client, headers["editor"], body, "点.geojson")
        assert (r.json()["inserted"], r.json()["unchanged"]) == (0, 1)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        audit = await conn.fetch(
            "SELECT actor, action, target, details FROM audit_log "
            "WHERE action = 'layers.import' ORDER BY id"
        )
    finally:
        await conn.close()
    assert [(a["actor"], a["target"], json.loads(a["details"])["inserted"]) for a in audit] == [
        ("test-editor", "broadcasts", 1),
        ("test-editor", "broadcasts", 0),
    ]


async def test_bad_rows_skip_and_crs_fields(empty_db: Settings, tmp_path: Path) -> None:
    """Bad rows: 400 problem JSON listing them; on_error=skip loads the rest; crs applies."""
    headers = (await role_headers(empty_db))["editor"]
    from api.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(108.95, 34.25)
    csv = F.csv_file(
        tmp_path / "b.csv",
        ["code", "name", "kind", "lon", "lat"],
        [
            ["B1", "a", "radio", float(gx), float(gy)],
            ["B2", "b", "satellite", float(gx), float(gy)],
        ],
    ).read_bytes()
    async with app_client(empty_db) as client:
        r = await _post(client, headers, csv, "b.csv", crs="GCJ-02")
        assert r.status_code == 400
        problem = r.json()
        assert problem["title"] == "Import rejected"
        assert problem["errors"] == [
            {"row": 2, "field": "kind", "reason": "not one of: loudspeaker, led_screen, radio"}
        ]
        assert (problem["total"], problem["rejected"]) == (2, 1)
        assert await _count(empty_db, "broadcasts") == 0
        r = await _post(client, headers, csv, "b.csv", crs="GCJ-02", on_error="skip")
        assert r.status_code == 200
        assert (r.json()["inserted"], r.json()["rejected"], r.json()["crs"]) == (1, 1, "GCJ-02")
        r = await _post(client, headers, csv, "b.csv", on_error="maybe")
        assert r.status_code == 400
        r = await _post(client, headers, csv, "b.csv", crs="EPSG:999999")
        assert r.status_code == 400 and "unknown coordinate system" in r.json()["detail"]
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        x, y = await conn.fetchrow("SELECT ST_X(geom), ST_Y(geom) FROM broadcasts")
    finally:
        await conn.close()
    assert (x, y) == (pytest.approx(108.95, abs=1e-9), pytest.approx(34.25, abs=1e-9))


async def test_unknown_layer_and_form_problems(empty_db: Settings, tmp_path: Path) -> None:
    """404 for an unknown layer; 415 when not multipart; 400 without a file part."""
    headers = (await role_headers(empty_db))["editor"]
    body = _geojson_bytes(tmp_path)
    async with app_client(empty_db) as client:
        r = await _post(client, headers, body, layer="nope")
        assert r.status_code == 404 and "importable" in r.json()["detail"]
        r = await _post(client, headers, body, layer="alarms")
        assert r.status_code == 404
        r = await client.post(
            "/layers/broadcasts/import",
            content=body,
            headers={**headers, "content-type": "application/json"},
        )
        assert r.status_code == 415
        r = await client.post(
            "/layers/broadcasts/import",
            data={"crs": "4326"},
            files={"other": ("x", b"1")},
            headers=headers,
        )
        assert r.status_code == 400 and "no 'file' part" in r.json()["detail"]


async def test_body_cap_enforced_while_streaming(empty_db: Settings, tmp_path: Path) -> None:
    """413 from Content-Length, and 413 mid-stream for a chunked body; no temp files remain."""
    settings, uploads = _private_uploads(
        empty_db.model_copy(update={"max_upload_bytes": 4096}), tmp_path
    )
    headers = (await role_headers(empty_db))["editor"]
    feats = [F.feature(dict(PROPS, code=f"B{i}"), POINT) for i in range(200)]
    big = _geojson_bytes(tmp_path, feats)
    assert len(big) > 10_000
    async with app_client(settings) as client:
        r = await _post(client, headers, big * 100, "big.geojson")
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        boundary = "onemapboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.geojson"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def chunks() -> AsyncIterator[bytes]:
            yield head
            for i in range(0, len(big), 1000):
                yield big[i : i + 1000]
            yield tail

        r = await client.post(
            "/layers/broadcasts/import",
            content=chunks(),
            headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert r.status_code == 413, r.text
        assert "larger than 4096 bytes" in r.json()["detail"]
        small = _geojson_bytes(tmp_path)
        r = await _post(client, headers, small, "ok.geojson")
        assert r.status_code == 200
    assert _leftovers(uploads) == []
    assert await _count(empty_db, "broadcasts") == 1


def _shp(tmp: Path) -> dict[str, bytes]:
    return F.shapefile_parts(tmp, [PROPS], [POINT])


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("too_many_entries", 413, "entries; at most 4"),
        ("too_big_unzipped", 413, "would unpack to"),
        ("traversal", 400, "path traversal"),
        ("absolute", 400, "absolute path"),
        ("symlink", 400, "symbolic link"),
        ("nested_zip", 400, "no nested archives"),
        ("nested_by_content", 400, "no nested archives"),
        ("no_shapefile", 415, "holds no shapefile"),
        ("two_shapefiles", 400, "holds 2 shapefiles"),
        ("missing_dbf", 400, "lacks its .dbf"),
    ],
)
async def test_hostile_zips(
    empty_db: Settings, tmp_path: Path, case: str, status: int, message: str
) -> None:
    """Checked from the central directory before anything is extracted; clear 400/413/415."""
    settings = empty_db.model_copy(update={"max_zip_entries": 4, "max_unzipped_bytes": 64 * 1024})
    headers = (await role_headers(empty_db))["editor"]
    parts = _shp(tmp_path)
    base = {f"p{s}": parts[s] for s in (".shp", ".shx", ".dbf")}
    entries: dict[str, bytes] = dict(base)
    links: dict[str, str] = {}
    if case == "too_many_entries":
        entries.update({"a.txt": b"1", "b.txt": b"2"})
    elif case == "too_big_unzipped":
        entries["readme.txt"] = b"\0" * (1024 * 1024)
    elif case == "traversal":
        entries = {"../../p.shp": parts[".shp"], "p.shx": parts[".shx"], "p.dbf": parts[".dbf"]}
    elif case == "absolute":
        entries = {"/tmp/p.shp": parts[".shp"], "p.shx": parts[".shx"], "p.dbf": parts[".dbf"]}
    elif case == "symlink":
        entries = {"p.shx": parts[".shx"], "p.dbf": parts[".dbf"]}
        links = {"p.shp": "/etc/passwd"}
    elif case == "nested_zip":
        entries["inner.zip"] = b"PK\x05\x06" + b"\0" * 18
    elif case == "nested_by_content":
        entries["p.prj"] = gzip.compress(b"GEOGCS")
    elif case == "no_shapefile":
        entries = {"data.csv": b"code,lon,lat\n"}
    elif case == "two_shapefiles":
        entries.update({f"q{s}": parts[s] for s in (".shp", ".shx", ".dbf")})
        settings = settings.model_copy(update={"max_zip_entries": 10})
    elif case == "missing_dbf":
        del entries["p.dbf"]
    body = F.zip_of(tmp_path / "hostile.zip", entries, links).read_bytes()
    settings, uploads = _private_uploads(settings, tmp_path)
    async with app_client(settings) as client:
        r = await _post(client, headers, body, "hostile.zip")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert message in r.json()["detail"]
    assert _leftovers(uploads) == []
    assert await _count(empty_db, "broadcasts") == 0


def test_zip_is_not_extracted_when_refused(tmp_path: Path) -> None:
    """Nothing is written for a refused zip (checks run on the central directory first)."""
    parts = _shp(tmp_path)
    entries = {"../evil.shp": parts[".shp"], "p.shx": parts[".shx"], "p.dbf": parts[".dbf"]}
    archive = F.zip_of(tmp_path / "evil.zip", entries)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(Exception, match="path traversal"):
        extract_shapefile(archive, dest, Settings())
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.shp").exists()


def _vrt(tmp: Path) -> bytes:
    """An OGR VRT that would make GDAL read a local CSV (or any file) if it were opened."""
    secret = F.csv_file(
        tmp / "secret.csv", ["code", "name", "lon", "lat"], [["S", "s", 108.9, 34.2]]
    )
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="secret"><SrcDataSource>{secret}</SrcDataSource>'
        '<GeometryType>wkbPoint</GeometryType><GeometryField encoding="PointFromColumns" '
        'x="lon" y="lat"/></OGRVRTLayer></OGRVRTDataSource>'
    ).encode()


def _sqlite(tmp: Path) -> bytes:
    path = tmp / "plain.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("filename", "make", "message"),
    [
        ("vrt.geojson", _vrt, "XML document"),
        ("a.geojson", lambda t: b'<?xml version="1.0"?><kml/>', "XML document"),
        ("a.gpkg", lambda t: gzip.compress(b"{}"), "gzip archive"),
        ("a.gpkg", _sqlite, "not a GeoPackage"),
        ("a.shp", lambda t: _shp(t)[".shp"], "bare .shp"),
        ("a.geojson", lambda t: bytes(range(256)) * 4, "binary file"),
        ("a.geojson", lambda t: b"[1, 2]", "JSON array"),
        ("a.geojson", lambda t: b"", "empty"),
        ("a.csv", lambda t: b"  \n\n ", "blank"),
    ],
)
async def test_refused_by_content_not_name(
    empty_db: Settings, tmp_path: Path, filename: str, make: Any, message: str
) -> None:
    """415 for anything that is not one of the four formats, whatever its name says."""
    headers = (await role_headers(empty_db))["editor"]
    async with app_client(empty_db) as client:
        r = await _post(client, headers, make(tmp_path), filename)
    assert r.status_code == 415, r.text
    assert message in r.json()["detail"]
    assert await _count(empty_db, "broadcasts") == 0


async def test_content_decides_and_names_are_never_paths(
    empty_db: Settings, tmp_path: Path
) -> None:
    """A CSV called .gpkg is read as CSV; a client file name never becomes a path."""
    headers = (await role_headers(empty_db))["editor"]
    csv = F.csv_file(tmp_path / "x.csv", ["code", "name", "lon", "lat"], [["B1", "a", 108.9, 34.2]])
    async with app_client(empty_db) as client:
        r = await _post(client, headers, csv.read_bytes(), "../../etc/passwd.gpkg")
    assert r.status_code == 200, r.text
    assert (r.json()["format"], r.json()["source"]) == ("csv", "import:passwd.gpkg")
    assert sniff(csv) == "csv"


def test_gdal_formats_and_sniffing(tmp_path: Path) -> None:
    """GeoPackage and zipped Shapefile by their magic bytes; GeoJSON by its first character."""
    gp = F.gpkg(tmp_path / "a.bin", [PROPS], [POINT])
    zp = F.shapefile_zip(tmp_path / "b.bin", [PROPS], [POINT])
    gj = tmp_path / "c.bin"
    gj.write_bytes(b"\xef\xbb\xbf \n{}")
    assert [sniff(p) for p in (gp, zp, gj)] == ["gpkg", "shapefile_zip", "geojson"]


def test_cli_import(empty_db: Settings, tmp_path: Path) -> None:
    """`onemap import`: counts on success; exit 1 with the row errors on failure."""
    env = {**os.environ, "ONEMAP_DATABASE_URL": empty_db.database_url}
    good = F.geojson(tmp_path / "ok.geojson", [F.feature(PROPS, POINT)])
    cmd = [sys.executable, "-m", "api.cli", "import"]
    ok = subprocess.run(
        [*cmd, str(good), "--layer", "broadcasts", "--source", "cli-test"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "broadcasts" in ok.stdout and "cli-test" in ok.stdout
    bad = F.geojson(tmp_path / "bad.geojson", [F.feature(dict(PROPS, kind="tv"), POINT)])
    fail = subprocess.run(
        [*cmd, str(bad), "--layer", "broadcasts"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fail.returncode == 1
    assert "import rejected" in fail.stderr and "not one of" in fail.stderr
    unknown = subprocess.run(
        [*cmd, str(good), "--layer", "nope"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 1 and "importable layers" in unknown.stderr


def test_pgcopy_roundtrip_shape() -> None:
    """The COPY encoder lays out NULLs, empty strings and numbers as PostgreSQL reads them."""
    import numpy as np

    from api.importer import pgcopy

    cols: list[pgcopy.Column] = [
        pgcopy.var_column(["a", None, ""]),
        pgcopy.FixedColumn(np.array([1, 2, 3], dtype=">i4"), np.array([False, True, False])),
    ]
    body = pgcopy.encode(cols, 0, 3)
    expected = io.BytesIO()
    for text, num in ((b"a", 1), (None, None), (b"", 3)):
        expected.write((2).to_bytes(2, "big"))
        if text is None:
            expected.write((-1).to_bytes(4, "big", signed=True))
        else:
            expected.write(len(text).to_bytes(4, "big") + text)
        if num is None:
            expected.write((-1).to_bytes(4, "big", signed=True))
        else:
            expected.write((4).to_bytes(4, "big") + num.to_bytes(4, "big"))
    assert body == expected.getvalue()
