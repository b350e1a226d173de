"""geodata.lifelines: gas, water, drainage, heat and power mains along a sketch of Xi'an's roads.

The road sketch is the city's grid inside the second ring, the second and third
ring roads, and arterials out to the district seats; each main follows a stretch
of it, offset to its own side of the road, clipped to the district it serves.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geodata import names
from geodata.context import Context, Feature, pick

CENTRE = (108.942, 34.261)
SEATS = (
    (109.215, 34.370),
    (109.230, 34.660),
    (109.090, 34.535),
    (108.605, 34.110),
    (108.220, 34.165),
    (109.320, 34.155),
    (108.940, 34.160),
    (108.940, 34.420),
    (108.870, 34.160),
    (109.060, 34.270),
)
#: kind: (count, lateral offset in metres, length range km)
KINDS = {
    "gas": (160, 6.0, (1.0, 5.0)),
    "water": (160, -6.0, (1.0, 6.0)),
    "drainage": (140, 0.0, (0.8, 4.0)),
    "heat": (80, 10.0, (1.0, 4.0)),
    "power": (110, -12.0, (2.0, 12.0)),
}
NAMES = {
    "gas": "燃气管线",
    "water": "供水管线",
    "drainage": "排水管线",
    "heat": "供热管线",
    "power": "电力线路",
}


def _rect(x0: float, y0: float, x1: float, y1: float) -> LineString:
    return LineString([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])


def roads() -> list[LineString]:
    """The sketch: core grid, ring roads, arterials to district seats and between them."""
    lines: list[LineString] = []
    for lon in np.arange(108.86, 109.03, 0.012):
        lines.append(LineString([(lon, 34.18), (lon, 34.34)]))
    for lat in np.arange(34.19, 34.335, 0.011):
        lines.append(LineString([(108.84, lat), (109.05, lat)]))
    lines.append(_rect(108.895, 34.225, 108.995, 34.295))  # 二环
    lines.append(_rect(108.83, 34.17, 109.06, 34.36))  # 三环
    for seat in SEATS:
        lines.append(LineString([CENTRE, seat]))
    for a, b in zip(SEATS, SEATS[1:], strict=False):
        lines.append(LineString([a, b]))
    return lines


def _line_parts(geom: BaseGeometry) -> MultiLineString | None:
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, LineString) and g.length > 0]
    return MultiLineString(parts) if parts else None


def generate(ctx: Context) -> list[Feature]:
    """The mains, codes LL0001.."""
    network = roads()
    lengths = np.array([ln.length for ln in network])
    kx = 111.32 * np.cos(np.radians(34.2))
    out: list[Feature] = []
    districts = ctx.districts
    for kind, (count, offset_m, (lmin, lmax)) in KINDS.items():
        rng = ctx.rng(f"lifelines/{kind}")
        made = 0
        while made < count:
            road = network[int(rng.choice(len(network), p=lengths / lengths.sum()))]
            km = road.length * kx
            want = float(rng.uniform(lmin, lmax))
            start = float(rng.uniform(0, max(km - want, 0.0)))
            piece: BaseGeometry = substring(
                road, start / km, min(start + want, km) / km, normalized=True
            )
            if offset_m and isinstance(piece, LineString):
                piece = piece.offset_curve(offset_m / 111_320.0)
            mid = piece.interpolate(0.5, normalized=True)
            home = next((d for d in districts if d.inner.contains(mid)), None)
            if home is None:
                continue
            inside = home.inner.contains(piece)
            clipped = _line_parts(piece if inside else shapely.intersection(piece, home.inner))
            if clipped is None:
                continue
            made += 1
            out.append(
                Feature(
                    _attrs(rng, kind, len(out) + 1, home.adcode, names.place(rng, home.adcode)),
                    clipped,
                )
            )
    return out


def _attrs(rng: np.random.Generator, kind: str, i: int, adcode: str, p: str) -> dict[str, object]:
    props: dict[str, object] = {
        "code": f"LL{i:04d}",
        "district": adcode,
        "kind": kind,
        "laid_year": int(rng.integers(1985, 2024)),
        "material": None,
        "diameter_mm": None,
        "pressure_mpa": None,
        "voltage_kv": None,
    }
    grade = ""
    if kind == "gas":
        pressure = float(
            pick(rng, ("0.01", "0.2", "0.4", "1.6", "4.0"), [0.2, 0.35, 0.3, 0.1, 0.05])
        )
        grade = {0.01: "低压", 0.2: "中压", 0.4: "中压", 1.6: "次高压", 4.0: "高压"}[pressure]
        props |= {
            "material": "PE管" if pressure <= 0.4 and rng.random() < 0.5 else "钢管",
            "diameter_mm": float(rng.choice([110, 160, 200, 300, 400, 500, 610, 813])),
            "pressure_mpa": pressure,
        }
    elif kind == "water":
        props |= {
            "material": pick(rng, ("球墨铸铁管", "钢管", "PE管"), [0.6, 0.3, 0.1]),
            "diameter_mm": float(rng.choice([200, 300, 400, 600, 800, 1000, 1200, 1600])),
            "pressure_mpa": round(float(rng.uniform(0.3, 0.6)), 2),
        }
    elif kind == "drainage":
        props |= {
            "material": pick(rng, ("钢筋混凝土管", "HDPE双壁波纹管"), [0.7, 0.3]),
            "diameter_mm": float(rng.choice([400, 600, 800, 1000, 1200, 1500, 1800, 2400])),
        }
        grade = pick(rng, ("雨水", "污水"), [0.5, 0.5])
    elif kind == "heat":
        props |= {
            "material": "预制直埋保温钢管",
            "diameter_mm": float(rng.choice([200, 300, 400, 500, 700, 900, 1000])),
            "pressure_mpa": float(rng.choice([1.0, 1.6])),
        }
    else:
        kv = float(pick(rng, ("10", "35", "110", "330"), [0.45, 0.2, 0.25, 0.1]))
        grade = f"{int(kv)}千伏"
        props |= {
            "material": "交联聚乙烯电缆" if kv <= 35 else "钢芯铝绞线架空线",
            "voltage_kv": kv,
        }
    props["name"] = f"{p}{grade}{NAMES[kind]}{i:04d}"
    return props
