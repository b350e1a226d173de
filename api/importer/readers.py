"""api.importer.readers: a file to a RawTable (columns as Arrow arrays + geometries + its CRS).

GeoJSON and CSV are parsed here, without GDAL: neither can make onemap read
another file or a URL. GeoPackage and Shapefile go through GDAL (pyogrio's
Arrow path) with the driver checked and SQLite's virtual OGR tables off.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
import pyproj
import shapely

from api.crs import Crs, from_pyproj, parse_crs
from api.errors import BadRequest, UnsupportedMediaType
from api.importer import geometry as G
from api.importer.archive import extract_shapefile
from api.importer.sniff import Format
from api.settings import Settings

#: GDAL may open these with only these drivers
DRIVERS: dict[str, str] = {"gpkg": "GPKG", "shapefile_zip": "ESRI Shapefile"}
#: process-wide GDAL settings: no virtual OGR tables in SQLite, no network, no dir scans
GDAL_OPTIONS: dict[str, str] = {
    "OGR_SQLITE_LIST_VIRTUAL_OGR": "NO",
    "GDAL_HTTP_TIMEOUT": "1",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".onemap-no-network",
    "GDAL_DISABLE_READDIR_ON_OPEN": "TRUE",
}
LON_NAMES = ("lon", "lng", "longitude", "long", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")


@dataclass(slots=True)
class RawTable:
    """A file's records: attribute columns by their own names, geometries, the declared CRS."""

    format: str
    n: int
    columns: dict[str, pa.Array]
    geoms: G.Geoms
    crs: Crs | None = None
    #: False when the file has no geometry at all (attribute tables)
    has_geometry: bool = True
    #: columns consumed as geometry (lon/lat), not to be reported as ignored
    geometry_columns: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- GeoJSON


def _column(values: list[Any]) -> pa.Array:
    """An Arrow array from JSON values; mixed or nested values become text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array(
            [
                None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode()
                for v in values
            ],
            pa.large_string(),
        )


def _geojson_crs(doc: dict[str, Any]) -> Crs | None:
    """The legacy `crs` member (GeoJSON 2008), e.g. urn:ogc:def:crs:EPSG::4547."""
    member = doc.get("crs")
    if member is None:
        return None
    name = member.get("properties", {}).get("name") if isinstance(member, dict) else None
    if not isinstance(name, str) or member.get("type") != "name":
        raise BadRequest(
            "the GeoJSON 'crs' member must be {'type': 'name', 'properties': "
            "{'name': ...}}; or leave it out and pass crs"
        )
    return parse_crs(name)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _geojson_geoms(geoms: list[Any]) -> G.Geoms:
    n = len(geoms)
    present = [g for g in geoms if g is not None]
    if present and all(isinstance(g, dict) and g.get("type") == "Point" for g in present):
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        missing = np.zeros(n, dtype=bool)
        unparsable = np.zeros(n, dtype=bool)
        for i, g in enumerate(geoms):
            if g is None:
                missing[i] = True
                continue
            c = g.get("coordinates")
            if isinstance(c, list) and len(c) >= 2 and _is_num(c[0]) and _is_num(c[1]):
                x[i], y[i] = c[0], c[1]
            elif c == []:
                pass  # an empty point
            else:
                unparsable[i] = True
        return G.Geoms(n, missing, x, y, unparsable=unparsable)
    text = np.array([orjson.dumps(g) if isinstance(g, dict) else None for g in geoms], dtype=object)
    shapes = shapely.from_geojson(text, on_invalid="ignore")
    not_object = np.array([g is not None and not isinstance(g, dict) for g in geoms], dtype=bool)
    unparsable = (
        np.array([t is not None for t in text], dtype=bool) & shapely.is_missing(shapes)
    ) | not_object
    return G.from_shapes(shapes, unparsable)


def read_geojson(path: Path) -> RawTable:
    """A GeoJSON FeatureCollection (or one Feature), parsed with orjson."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UnsupportedMediaType("JSON that is not a GeoJSON object")
    return geojson_table(doc)


def geojson_table(doc: dict[str, Any]) -> RawTable:
    """A parsed GeoJSON FeatureCollection (or one Feature) as a RawTable (no file needed)."""
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise BadRequest("the FeatureCollection has no 'features' list")
    elif kind == "Feature":
        features = [doc]
    else:
        raise BadRequest(
            f"GeoJSON must be a FeatureCollection or a Feature, not {str(kind)[:40]!r}"
        )
    crs = _geojson_crs(doc)
    props: list[dict[str, Any]] = []
    geoms: list[Any] = []
    ids: list[Any] = []
    for f in features:
        if not isinstance(f, dict):
            props.append({})
            geoms.append(0)  # not an object: unparsable
            ids.append(None)
            continue
        p = f.get("properties")
        props.append(p if isinstance(p, dict) else {})
        geoms.append(f.get("geometry"))
        ids.append(f.get("id"))
    keys: dict[str, None] = {}
    for p in props:
        for k in p:
            keys.setdefault(k, None)
    columns = {k: _column([p.get(k) for p in props]) for k in keys}
    if "code" not in {k.lower() for k in keys} and any(i is not None for i in ids):
        columns["code"] = _column(ids)
    return RawTable("geojson", len(features), columns, _geojson_geoms(geoms), crs)


# ---------------------------------------------------------------- CSV


def _csv_dialect(path: Path) -> tuple[str, str, list[str]]:
    """Encoding (UTF-8 or GB18030), delimiter and header of a CSV file."""
    with path.open("rb") as fh:
        head = fh.read(256 * 1024)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    text = None
    for encoding in ("utf-8", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise BadRequest("the CSV is neither UTF-8 nor GB18030/GBK text")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter), [])
    header = [h.strip() for h in header]
    if not header or any(not h for h in header):
        raise BadRequest("the CSV's first line must name every column")
    lowered = [h.lower() for h in header]
    dupes = sorted({h for h in lowered if lowered.count(h) > 1})
    if dupes:
        raise BadRequest(f"the CSV names these columns twice: {', '.join(dupes)[:200]}")
    return encoding, delimiter, header


def _pick(names: dict[str, str], candidates: tuple[str, ...]) -> str | None:
    for c in candidates:
        if c in names:
            return names[c]
    return None


def read_csv(path: Path) -> RawTable:
    """A CSV with a header; geometry from lon/lat (lng, longitude, x, ...) or a WKT column."""
    encoding, delimiter, header = _csv_dialect(path)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.large_string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise BadRequest(f"the CSV cannot be parsed: {str(exc)[:300]}") from None
    columns = {h: table[h].combine_chunks() for h in header}
    n = table.num_rows
    names = {h.lower(): h for h in header}
    lon_col, lat_col = _pick(names, LON_NAMES), _pick(names, LAT_NAMES)
    wkt_col = _pick(names, WKT_NAMES)
    if lon_col and lat_col:
        from api.importer.coerce import to_float

        xs, ys = to_float(columns.pop(lon_col)), to_float(columns.pop(lat_col))
        unparsable = np.zeros(n, dtype=bool)
        for mask, _ in xs.bad + ys.bad:
            unparsable |= mask
        missing = (xs.nulls | ys.nulls) & ~unparsable
        x = np.where(xs.nulls | unparsable, np.nan, xs.values)
        y = np.where(ys.nulls | unparsable, np.nan, ys.values)
        # NaN/Infinity typed in the file are kept as such for the coordinate check
        for mask, reason in xs.bad + ys.bad:
            if "finite" in reason:
                unparsable &= ~mask
                x = np.where(mask, np.inf, x)
        reason = f"{lon_col}/{lat_col} is not a number"
        geoms = G.Geoms(n, missing, x, y, unparsable=unparsable, unparsable_reason=reason)
        return RawTable("csv", n, columns, geoms, geometry_columns=[lon_col, lat_col])
    if wkt_col:
        raw = columns.pop(wkt_col).to_numpy(zero_copy_only=False)
        raw = np.array([v if v and v.strip() else None for v in raw], dtype=object)
        shapes = shapely.from_wkt(raw, on_invalid="ignore")
        unparsable = np.array([r is not None for r in raw], dtype=bool) & shapely.is_missing(shapes)
        geoms = G.from_shapes(shapes, unparsable)
        return RawTable("csv", n, columns, geoms, geometry_columns=[wkt_col])
    return RawTable("csv", n, columns, G.none(n), has_geometry=False)


# ---------------------------------------------------------------- GDAL


def _pick_layer(path: Path, wanted: str) -> str:
    layers = pyogrio.list_layers(path)
    names = [str(row[0]) for row in layers]
    if not names:
        raise BadRequest("the file holds no layer")
    if len(names) == 1:
        return names[0]
    if wanted in names:
        return wanted
    raise BadRequest(
        f"the file holds {len(names)} layers ({', '.join(names)[:300]}); name one after the "
        f"target layer ({wanted}) or send one layer per file"
    )


def read_gdal(path: Path, fmt: Format, wanted_layer: str) -> RawTable:
    """A GeoPackage or Shapefile through pyogrio's Arrow reader, with its driver checked."""
    pyogrio.set_gdal_config_options(GDAL_OPTIONS)
    try:
        layer = _pick_layer(path, wanted_layer)
        info = pyogrio.read_info(path, layer=layer)
        if info.get("driver") != DRIVERS[fmt]:
            raise UnsupportedMediaType(
                f"GDAL would read this file as {info.get('driver')!r}, not {DRIVERS[fmt]}"
            )
        meta, table = pyogrio.read_arrow(path, layer=layer)
    except pyogrio.errors.DataSourceError as exc:
        raise BadRequest(f"the {DRIVERS[fmt]} file cannot be read: {str(exc)[:300]}") from None
    except pyogrio.errors.DataLayerError as exc:
        raise BadRequest(f"the layer cannot be read: {str(exc)[:300]}") from None
    n = table.num_rows
    geom_name = meta.get("geometry_name") or "wkb_geometry"
    crs = None
    if meta.get("crs"):
        try:
            crs = from_pyproj(pyproj.CRS.from_user_input(meta["crs"]))
        except pyproj.exceptions.CRSError:
            raise BadRequest(
                f"the file's coordinate system is not understood: {meta['crs'][:200]}"
            ) from None
    columns = {
        name: table[name].combine_chunks()
        for name in table.column_names
        if name != geom_name and name != meta.get("fid_column")
    }
    if meta.get("geometry_type") is None or geom_name not in table.column_names:
        return RawTable(fmt, n, columns, G.none(n), crs, has_geometry=False)
    return RawTable(fmt, n, columns, G.from_wkb(table[geom_name]), crs)


def read_file(
    path: Path, fmt: Format, workdir: Path, settings: Settings, wanted_layer: str
) -> RawTable:
    """Read a sniffed file; zipped shapefiles are checked and extracted into `workdir` first."""
    if fmt == "geojson":
        return read_geojson(path)
    if fmt == "csv":
        return read_csv(path)
    if fmt == "shapefile_zip":
        shp = extract_shapefile(path, workdir, settings)
        return read_gdal(shp, fmt, wanted_layer)
    return read_gdal(path, fmt, wanted_layer)
