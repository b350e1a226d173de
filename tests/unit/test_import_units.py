"""Importer pieces without a database: type coercion and the WKB point fast path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import shapely

from api.importer import coerce as C
from api.importer import geometry as G

UTC = dt.UTC


def _us(y: int, m: int, d: int, hh: int = 0, mm: int = 0, tz: dt.tzinfo = UTC) -> int:
    """Microseconds since 1970 UTC of a wall-clock time in `tz`."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (dt.datetime(y, m, d, hh, mm, tzinfo=tz) - epoch) // dt.timedelta(microseconds=1)


def test_timestamps_naive_offset_and_mixed() -> None:
    """Naive values are local time; offsets are honoured; both at once; junk is a bad row."""
    shanghai = dt.timezone(dt.timedelta(hours=8))
    naive = C.to_timestamp(
        pa.array(["2024-05-01 08:00", "2024-05-01T09:30:00", ""]), "Asia/Shanghai"
    )
    assert naive.values[:2].tolist() == [
        _us(2024, 5, 1, 8, tz=shanghai),
        _us(2024, 5, 1, 9, 30, tz=shanghai),
    ]
    assert naive.nulls.tolist() == [False, False, True] and naive.bad == []
    aware = C.to_timestamp(pa.array(["2024-05-01T00:00:00Z", "2024-05-01T08:00:00+08:00"]), "UTC")
    assert aware.values.tolist() == [_us(2024, 5, 1)] * 2
    mixed = C.to_timestamp(
        pa.array(["2024-05-01T00:00:00Z", "2024-05-01 08:00", "soon"]), "Asia/Shanghai"
    )
    assert mixed.values[:2].tolist() == [_us(2024, 5, 1)] * 2
    assert [m.tolist() for m, _ in mixed.bad] == [[False, False, True]]


def test_numbers_and_text() -> None:
    """Whole numbers from text and floats, ranges, finiteness; text from numbers."""
    ints = C.to_int(pa.array(["12", " 7 ", "12.0", "12.5", "x", None]), "smallint")
    assert ints.values[:3].tolist() == [12, 7, 12]
    assert [(m.tolist(), r) for m, r in ints.bad] == [
        ([False, False, False, True, True, False], "not a whole number")
    ]
    big = C.to_int(pa.array([40000]), "smallint")
    assert big.bad[0][1] == "out of range (-32768..32767)"
    floats = C.to_float(pa.array(["1.5", "NaN", "inf", "-2"]))
    assert floats.values.tolist() == [1.5, 0.0, 0.0, -2.0]
    assert [(m.tolist(), r) for m, r in floats.bad] == [
        ([False, True, True, False], "not a finite number (NaN or Infinity)")
    ]
    text = C.to_text(pa.array([12.0, 1.5, None]))
    assert text.values.to_pylist() == ["12", "1.5", None]
    chosen = C.check_choices(C.to_text(pa.array(["Gas", "steam"])), ("gas", "water"))
    assert chosen.values.to_pylist() == ["gas", "steam"]
    assert [m.tolist() for m, _ in chosen.bad] == [[False, True]]


def test_wkb_points_decode_without_shapely() -> None:
    """2D little-endian WKB points take the numpy path; anything else falls back to shapely."""
    pts = shapely.points([[108.9, 34.2], [109.0, 34.3]])
    wkb = pa.array([*shapely.to_wkb(pts), None], pa.binary())
    g = G.from_wkb(wkb)
    assert g.is_points and g.x is not None and g.y is not None
    assert g.x[:2].tolist() == [108.9, 109.0] and g.y[:2].tolist() == [34.2, 34.3]
    assert g.missing.tolist() == [False, False, True]
    mixed = pa.array([shapely.to_wkb(pts[0]), shapely.to_wkb(shapely.box(0, 0, 1, 1)), b"junk"])
    h = G.from_wkb(mixed)
    assert not h.is_points and h.unparsable is not None
    assert h.unparsable.tolist() == [False, False, True]
    ewkb = G.to_ewkb(g)
    back = shapely.from_wkb(
        np.array([bytes(ewkb.data[0:25]), bytes(ewkb.data[25:50])], dtype=object)
    )
    assert shapely.get_srid(back).tolist() == [4326, 4326]
    assert shapely.equals(back, pts).all()
