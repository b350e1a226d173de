"""geodata.hazards: major hazard sources with GB 18218-2018 substances, identified and graded.

Threshold quantities Q and correction factors β are the standard's, read from
api.grading.gb18218 (Table 1 for the named substances, Table 2 / 4 by category
for xylene, which Table 1 does not name). The
quantities present are chosen so that each source is identified (S ≥ 1) and
the sources spread over the four grades; α comes from the population grid
(people within 500 m), as the database recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.affinity import scale
from shapely.geometry import Point

from api.grading import gb18218
from geodata.context import Context, Feature
from geodata.sampling import M_LAT, M_LON


@dataclass(frozen=True)
class Substance:
    """A substance the demo stores: name, CAS, GB 18218 class (Table 2 symbol), Q (t), β."""

    name: str
    cas: str
    category: str
    q_threshold: float
    beta: float


def _substance(name: str, cas: str, category: str | None = None) -> Substance:
    """Q and β as GB 18218-2018 gives them (api.grading.gb18218, the one table)."""
    q, beta, _ = gb18218.standard_q_beta(name, cas, category)
    named = gb18218.find(name)
    symbol = category or (named.hazard_class if named is not None else None) or ""
    return Substance(name, cas, symbol, q, beta)


S = {
    s.name: s
    for s in (
        _substance("氯", "7782-50-5"),
        _substance("氨", "7664-41-7"),
        _substance("硫化氢", "7783-06-4"),
        _substance("氯化氢（无水）", "7647-01-0"),
        _substance("二氧化硫", "7446-09-5"),
        _substance("环氧乙烷", "75-21-8"),
        _substance("一氧化碳", "630-08-0"),  # Table 1 row 13 (煤气, CO ...): Q 20 t
        _substance("液化石油气", "68476-85-7"),
        _substance("天然气", "8006-14-2"),
        _substance("氢", "1333-74-0"),
        _substance("乙炔", "74-86-2"),
        _substance("甲醇", "67-56-1"),
        _substance("乙醇", "64-17-5"),
        _substance("汽油", "86290-81-5"),
        _substance("苯", "71-43-2"),
        _substance("甲苯", "108-88-3"),
        _substance("二甲苯", "1330-20-7", "W5.4"),  # not in Table 1: flammable liquid, cat. 3
        _substance("丙酮", "67-64-1"),
    )
}

#: (risk-unit category, area name, substances with their share of S)
TEMPLATES: tuple[tuple[str, str, tuple[tuple[str, float], ...]], ...] = (
    ("hazardous_chemicals", "甲醇储罐区", (("甲醇", 0.7), ("甲苯", 0.3))),
    ("hazardous_chemicals", "成品油储罐区", (("汽油", 1.0),)),
    ("hazardous_chemicals", "芳烃储罐区", (("苯", 0.5), ("甲苯", 0.3), ("二甲苯", 0.2))),
    ("hazardous_chemicals", "溶剂库", (("丙酮", 0.5), ("乙醇", 0.5))),
    ("hazardous_chemicals", "液氯库房", (("氯", 1.0),)),
    ("hazardous_chemicals", "液氨储罐区", (("氨", 1.0),)),
    ("hazardous_chemicals", "液化石油气储罐区", (("液化石油气", 1.0),)),
    ("hazardous_chemicals", "氢气充装站", (("氢", 1.0),)),
    ("hazardous_chemicals", "环氧乙烷灭菌车间", (("环氧乙烷", 1.0),)),
    ("hazardous_chemicals", "盐酸合成车间", (("氯化氢（无水）", 0.6), ("氯", 0.4))),
    ("hazardous_chemicals", "二氧化硫储存区", (("二氧化硫", 1.0),)),
    ("gas", "LNG储罐区", (("天然气", 1.0),)),
    ("gas", "液化气储配站", (("液化石油气", 1.0),)),
    ("water_supply", "加氯间", (("氯", 1.0),)),
    ("industrial", "氨制冷机房", (("氨", 1.0),)),
    ("industrial", "工业气体充装站", (("乙炔", 0.5), ("氢", 0.5))),
    ("industrial", "煤气发生站", (("一氧化碳", 0.7), ("硫化氢", 0.3))),
)
#: how many sources of each category, and the grades (1..4) they aim at
PER_CATEGORY = {"hazardous_chemicals": 30, "gas": 8, "water_supply": 4, "industrial": 6}
GRADE_MIX = (1,) * 4 + (2,) * 8 + (3,) * 18 + (4,) * 18
GRADE_R = {1: (105.0, 180.0), 2: (52.0, 95.0), 3: (12.0, 45.0), 4: (1.0, 9.5)}


def alpha(people: int) -> float:
    """GB 18218-2018 α by people outside the plant within 500 m."""
    if people >= 100:
        return 2.0
    if people >= 50:
        return 1.5
    if people >= 30:
        return 1.2
    if people >= 1:
        return 1.0
    return 0.5


def people_within(ctx: Context, lon: float, lat: float, radius_m: float = 500.0) -> int:
    """Residents within radius of a point, from the grid (area-weighted)."""
    circle = scale(Point(lon, lat).buffer(radius_m / M_LAT, 32), xfact=M_LAT / M_LON, yfact=1.0)
    grid = ctx.grid
    near = np.flatnonzero(shapely.intersects(grid.geoms, circle))
    if len(near) == 0:
        return 0
    cells = grid.geoms[near]
    share = shapely.area(shapely.intersection(cells, circle)) / shapely.area(cells)
    return int(round(float((grid.population[near] * share).sum())))


def generate(
    ctx: Context, risk_units: list[Feature]
) -> tuple[list[Feature], list[tuple[str, str, str, str, float, float, float]]]:
    """Hazard sources on fitting risk units, and their substances (q, Q, β)."""
    rng = ctx.rng("hazard_sources")
    grades = list(rng.permutation(np.array(GRADE_MIX)))
    sources: list[Feature] = []
    rows: list[tuple[str, str, str, str, float, float, float]] = []
    for category, n in PER_CATEGORY.items():
        units = [u for u in risk_units if u.props["category"] == category]
        templates = [t for t in TEMPLATES if t[0] == category]
        chosen = rng.choice(len(units), size=n, replace=False)
        for k, ui in enumerate(sorted(chosen.tolist())):
            unit = units[ui]
            _, area_name, mix = templates[k % len(templates)]
            x, y = unit.anchor
            people = people_within(ctx, x, y)
            a = alpha(people)
            target = int(grades.pop())
            subs = [(S[name], share) for name, share in mix]
            # q_i = k · share_i · Q_i, so S = k and R = α · k · Σ share_i β_i
            bsum = sum(share * s.beta for s, share in subs)
            lo, hi = GRADE_R[target]
            r = float(rng.uniform(lo, hi))
            kk = max(r / (a * bsum), 1.05)
            code = f"HS{len(sources) + 1:03d}"
            geom = unit.geom if unit.geom is not None else Point(x, y)
            sources.append(
                Feature(
                    {
                        "code": code,
                        "name": f"{unit.props['name']}{area_name}",
                        "district": unit.district,
                        "risk_unit_code": unit.code,
                        "enterprise": str(unit.props["name"]),
                        "people_within_500m": people,
                    },
                    geom,
                )
            )
            for s, share in subs:
                q = round(kk * share * s.q_threshold, 2)
                rows.append((code, s.name, s.cas, s.category, q, float(s.q_threshold), s.beta))
    return sources, rows
