"""api.monitoring.readings.parse: codes, times and values from a JSON or CSV body (no checks
yet)."""

from __future__ import annotations

from operator import attrgetter, itemgetter
from typing import Any

import msgspec
import numpy as np
import orjson
from numpy.typing import NDArray

from api.errors import BadRequest

_POINT, _TS, _VALUE = attrgetter("point"), attrgetter("ts"), attrgetter("value")


class _Reading(msgspec.Struct, gc=False):
    """One reading as a well-formed batch sends it."""

    point: str
    ts: str
    value: float


class _Readings(msgspec.Struct, gc=False):
    readings: list[_Reading]


_decode_readings = msgspec.json.Decoder(_Readings).decode


#: codes, times and values of a batch as sent (values as floats already when typed)
Columns = tuple[list[Any], list[Any], "list[Any] | NDArray[np.float64]"]


def parse_json(body: bytes) -> Columns:
    """Codes, times and values from `{"readings": [{point, ts, value}, ...]}` (or a bare list).

    The columnar form `{"points": [...], "ts": [...], "values": [...]}` is accepted too.
    A well-formed `{"readings": [...]}` is decoded straight into typed records
    (msgspec: no dict per reading); anything else takes the general path, whose
    errors (and those of `check`) name the problem.
    """
    try:
        typed = _decode_readings(body).readings
    except (msgspec.DecodeError, msgspec.ValidationError):
        typed = None  # another shape, or something wrong: the general path below
    if typed is not None:
        values = np.fromiter(map(_VALUE, typed), np.float64, len(typed))
        return list(map(_POINT, typed)), list(map(_TS, typed)), values
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON ({exc}); nothing was stored",
            errors=[{"field": "body", "message": str(exc)}],
        ) from exc
    if isinstance(doc, dict) and "points" in doc:
        pts, tss, vals = doc.get("points"), doc.get("ts"), doc.get("values")
        if not (isinstance(pts, list) and isinstance(tss, list) and isinstance(vals, list)):
            raise BadRequest("points, ts and values must be arrays")
        if not len(pts) == len(tss) == len(vals):
            raise BadRequest("points, ts and values must have the same length")
        return pts, tss, vals
    items = doc.get("readings") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise BadRequest('expected {"readings": [{"point": ..., "ts": ..., "value": ...}, ...]}')
    try:
        return (list(map(itemgetter("point"), items)), list(map(itemgetter("ts"), items)),
                list(map(itemgetter("value"), items)))  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise BadRequest("every reading needs point, ts and value") from exc


def parse_csv(body: bytes) -> Columns:
    """Codes, times and values from CSV text with a `point,ts,value` header."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("CSV must be UTF-8") from exc
    lines = text.splitlines()
    if not lines:
        raise BadRequest("empty CSV")
    header = [h.strip().lower() for h in lines[0].split(",")]
    try:
        ip, it, iv = header.index("point"), header.index("ts"), header.index("value")
    except ValueError as exc:
        raise BadRequest("the CSV header must name point, ts and value") from exc
    pts: list[Any] = []
    tss: list[Any] = []
    vals: list[Any] = []
    width = len(header)
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != width:
            raise BadRequest(f"line {no}: expected {width} fields")
        pts.append(cells[ip].strip())
        tss.append(cells[it].strip())
        try:
            vals.append(float(cells[iv]))
        except ValueError as exc:
            raise BadRequest(f"line {no}: value is not a number") from exc
    return pts, tss, vals
