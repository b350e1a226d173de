"""geodata.monitoring: 22,067 monitoring points of 13 kinds in the 3 domains (the 1+N system)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point

from geodata import names
from geodata.context import Context, Feature

TOTAL = 22_067


@dataclass(frozen=True)
class Kind:
    """A kind of sensor: domain, unit, alarm thresholds (levels 4..1), direction, interval."""

    code: str
    name: str
    domain: str
    unit: str
    direction: str
    #: thresholds for alarm levels 4, 3, 2, 1 (level 1, red, is the most severe)
    thresholds: tuple[float, float, float, float]
    interval_s: int
    count: int
    #: risk-unit categories a point of this kind may belong to
    categories: tuple[str, ...]
    #: share of points linked to a risk unit; the rest watch the network between units
    linked: float
    radius_m: float = 150.0
    gamma: float = 1.0


KINDS: tuple[Kind, ...] = (
    Kind(
        "gas_concentration",
        "可燃气体浓度",
        "lifeline",
        "%LEL",
        "above",
        (5, 10, 20, 50),
        60,
        6200,
        ("gas", "crowded_place", "underground_space"),
        0.45,
    ),
    Kind(
        "gas_pipe_pressure",
        "燃气管网压力",
        "lifeline",
        "MPa",
        "below",
        (0.30, 0.25, 0.20, 0.15),
        300,
        2100,
        ("gas",),
        0.25,
        400.0,
    ),
    Kind(
        "water_pipe_pressure",
        "供水管网压力",
        "lifeline",
        "MPa",
        "below",
        (0.22, 0.18, 0.15, 0.10),
        300,
        2400,
        ("water_supply",),
        0.15,
        600.0,
    ),
    Kind(
        "drainage_level",
        "排水管网液位",
        "lifeline",
        "%",
        "above",
        (60, 70, 80, 90),
        300,
        2300,
        ("drainage", "waterlogging_point"),
        0.30,
        400.0,
    ),
    Kind(
        "waterlogging_depth",
        "路面积水深度",
        "lifeline",
        "cm",
        "above",
        (10, 15, 27, 40),
        300,
        900,
        ("waterlogging_point", "bridge_tunnel", "underground_space"),
        0.80,
        80.0,
        1.2,
    ),
    Kind(
        "bridge_strain",
        "桥梁结构应变",
        "lifeline",
        "με",
        "above",
        (120, 150, 180, 220),
        600,
        1900,
        ("bridge_tunnel",),
        1.0,
        120.0,
    ),
    Kind(
        "heat_pipe_pressure",
        "供热管网压力",
        "lifeline",
        "MPa",
        "above",
        (1.3, 1.4, 1.5, 1.6),
        300,
        1100,
        ("heat_supply",),
        0.30,
        800.0,
    ),
    Kind(
        "cable_temperature",
        "电力电缆温度",
        "lifeline",
        "°C",
        "above",
        (60, 70, 80, 90),
        300,
        1400,
        ("power",),
        0.35,
        600.0,
    ),
    Kind(
        "electrical_fire_current",
        "电气火灾剩余电流",
        "public_safety",
        "mA",
        "above",
        (300, 500, 800, 1000),
        60,
        1800,
        ("crowded_place", "high_rise", "underground_space"),
        1.0,
        80.0,
        1.3,
    ),
    Kind(
        "ground_displacement",
        "地表位移",
        "public_safety",
        "mm",
        "above",
        (10, 20, 40, 80),
        3600,
        500,
        ("geological_hazard", "construction"),
        1.0,
        150.0,
    ),
    Kind(
        "crowd_density",
        "人员密度",
        "public_safety",
        "人/m²",
        "above",
        (1.5, 2.5, 4.0, 5.0),
        60,
        600,
        ("crowded_place", "rail_transit"),
        1.0,
        100.0,
        1.3,
    ),
    Kind(
        "toxic_gas_concentration",
        "有毒气体浓度",
        "production_safety",
        "ppm",
        "above",
        (10, 20, 50, 100),
        60,
        467,
        ("hazardous_chemicals", "industrial"),
        1.0,
        120.0,
    ),
    Kind(
        "tank_pressure",
        "储罐压力",
        "production_safety",
        "MPa",
        "above",
        (0.8, 0.9, 1.0, 1.1),
        60,
        400,
        ("hazardous_chemicals", "industrial"),
        1.0,
        120.0,
    ),
)
assert sum(k.count for k in KINDS) == TOTAL
assert len(KINDS) == 13


def generate(ctx: Context, risk_units: list[Feature]) -> list[Feature]:
    """The monitoring points, codes MP000001.., each linked where a fitting risk unit exists."""
    by_cat: dict[str, list[Feature]] = defaultdict(list)
    for ru in risk_units:
        by_cat[str(ru.props["category"])].append(ru)
    out: list[Feature] = []
    for kind in KINDS:
        rng = ctx.rng(f"monitoring/{kind.code}")
        pool = [u for c in kind.categories for u in by_cat[c]]
        n_linked = int(round(kind.count * kind.linked)) if pool else 0
        seq: dict[str, int] = defaultdict(int)
        # linked points, spread over the fitting units (a unit carries several sensors)
        owners = rng.integers(len(pool), size=n_linked) if n_linked else np.zeros(0, int)
        for i in owners.tolist():
            unit = pool[i]
            x, y = ctx.sampler.near(unit.district, unit.anchor, kind.radius_m, rng)
            seq[unit.code] += 1
            out.append(
                _point(
                    ctx,
                    kind,
                    len(out),
                    unit.district,
                    x,
                    y,
                    f"{unit.props['name']}{kind.name}监测点{seq[unit.code]}",
                    unit.code,
                )
            )
        # network points, where people live
        rest = kind.count - n_linked
        counts = ctx.sampler.split(rest, rng, gamma=min(kind.gamma, 1.0))
        for adcode, n in counts.items():
            for x, y in ctx.sampler.points(adcode, n, rng, gamma=kind.gamma):
                p = names.place(rng, adcode)
                key = f"{adcode}{p}"
                seq[key] += 1
                out.append(
                    _point(
                        ctx,
                        kind,
                        len(out),
                        adcode,
                        float(x),
                        float(y),
                        f"{p}{kind.name}监测点{seq[key]}",
                        None,
                    )
                )
    return out


def _point(
    ctx: Context,
    kind: Kind,
    i: int,
    adcode: str,
    x: float,
    y: float,
    name: str,
    unit_code: str | None,
) -> Feature:
    t4, t3, t2, t1 = kind.thresholds
    return Feature(
        {
            "code": f"MP{i + 1:06d}",
            "name": name,
            "district": adcode,
            "risk_unit_code": unit_code,
            "kind": kind.code,
            "domain": kind.domain,
            "unit": kind.unit,
            "direction": kind.direction,
            "threshold_l4": t4,
            "threshold_l3": t3,
            "threshold_l2": t2,
            "threshold_l1": t1,
            "expected_interval_s": kind.interval_s,
        },
        Point(x, y),
    )
