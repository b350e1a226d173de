"""tests.support.files: real files of every accepted format (and hostile ones), written by the
tests."""

from __future__ import annotations

import csv
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping

#: two test districts sharing the border lon = 109.0
DISTRICTS = [
    ("610102", "新城区", shapely.box(108.9, 34.2, 109.0, 34.3)),
    ("610103", "碑林区", shapely.box(109.0, 34.2, 109.1, 34.3)),
]


def feature(props: dict[str, Any], geom: Any) -> dict[str, Any]:
    """A GeoJSON Feature (geom: shapely, a GeoJSON dict, or None)."""
    if geom is not None and not isinstance(geom, dict):
        geom = mapping(geom)
    return {"type": "Feature", "properties": props, "geometry": geom}


def geojson(path: Path, features: list[dict[str, Any]], crs: str | None = None) -> Path:
    """A FeatureCollection file (with a legacy `crs` member when given)."""
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def districts_geojson(path: Path) -> Path:
    """The two test districts."""
    return geojson(
        path,
        [feature({"code": c, "name": n, "adcode": c}, g) for c, n, g in DISTRICTS],
    )


def frame(records: list[dict[str, Any]], geoms: list[Any], crs: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame of records and shapely geometries."""
    return gpd.GeoDataFrame(records, geometry=geoms, crs=crs)


def gpkg(
    path: Path,
    records: list[dict[str, Any]],
    geoms: list[Any],
    crs: str = "EPSG:4326",
    layer: str = "data",
) -> Path:
    """A GeoPackage written by GDAL."""
    frame(records, geoms, crs).to_file(path, driver="GPKG", layer=layer)
    return path


def shapefile_zip(
    path: Path, records: list[dict[str, Any]], geoms: list[Any], crs: str = "EPSG:4326"
) -> Path:
    """A zipped Shapefile (.shp, .shx, .dbf, .prj, .cpg) written by GDAL, in a folder."""
    work = path.parent / (path.stem + "_parts")
    work.mkdir()
    frame(records, geoms, crs).to_file(work / "layer.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(work.iterdir()):
            zf.write(part, f"export/{part.name}")
    return path


def csv_file(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    """A CSV with a header line."""
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def zip_of(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    """A zip with exactly these entries (names are written as given: hostile ones too)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def shapefile_parts(tmp: Path, records: list[dict[str, Any]], geoms: list[Any]) -> dict[str, bytes]:
    """The bytes of a valid shapefile's parts, by suffix, to build hostile zips around."""
    work = tmp / "parts"
    work.mkdir(exist_ok=True)
    frame(records, geoms, "EPSG:4326").to_file(work / "p.shp", driver="ESRI Shapefile")
    return {p.suffix: p.read_bytes() for p in work.iterdir()}
