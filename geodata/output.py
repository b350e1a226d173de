"""geodata.output: write features as GeoJSON and child rows as CSV, byte-for-byte reproducibly."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: decimal places kept for lon/lat (~1 cm)
PRECISION = 7


def write_geojson(
    path: Path, props: Sequence[dict[str, Any]], geoms: Sequence[BaseGeometry | None]
) -> int:
    """Write properties and geometries as a GeoJSON FeatureCollection; returns the count."""
    arr = np.array(list(geoms), dtype=object)
    rounded = shapely.transform(arr, lambda c: np.round(c, PRECISION))
    texts = shapely.to_geojson(rounded)
    buf = io.StringIO()
    buf.write('{"type":"FeatureCollection","features":[\n')
    for i, (p, gj) in enumerate(zip(props, texts, strict=True)):
        if i:
            buf.write(",\n")
        buf.write('{"type":"Feature","properties":')
        buf.write(json.dumps(p, ensure_ascii=False, separators=(",", ":")))
        buf.write(',"geometry":')
        buf.write("null" if gj is None else gj)
        buf.write("}")
    buf.write("\n]}\n")
    path.write_text(buf.getvalue(), encoding="utf-8")
    return len(arr)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write rows as UTF-8 CSV with a header; returns the row count."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    n = 0
    for row in rows:
        w.writerow(row)
        n += 1
    path.write_text(buf.getvalue(), encoding="utf-8")
    return n


def digest(paths: Iterable[Path]) -> str:
    """SHA-256 over the files' names and bytes, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()
