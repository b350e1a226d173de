"""geodata.risk_units: 3,176 synthetic risk units over the 15 categories of docs/grading-
model.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point

from geodata import names
from geodata.context import Context, Feature, pick
from geodata.districts import INNER, RING
from geodata.population import apportion

TOTAL = 3176
LEVELS = ("low", "general", "large", "major")
CONTROL = ("grade1", "grade2", "compliant", "noncompliant", "suspended")
CONTROL_P = [0.08, 0.22, 0.58, 0.10, 0.02]
#: the Qinling and loess-slope districts where geological hazards are registered
GEO_DISTRICTS = {
    "610116": 1.0,
    "610122": 1.2,
    "610124": 1.0,
    "610118": 0.8,
    "610115": 0.6,
    "610111": 0.3,
}
SUBURBS = {a: 0.15 for a in INNER} | {a: 0.7 for a in RING}


@dataclass(frozen=True)
class Category:
    """How one category's units are counted, placed, levelled and named."""

    code: str
    count: int
    gamma: float
    level_p: tuple[float, float, float, float]
    department: str
    patterns: tuple[str, ...]
    #: share drawn as small polygons, and their side lengths in metres
    area_share: float = 0.0
    size_m: tuple[float, float] = (80.0, 250.0)
    factor: dict[str, float] | None = None
    south_of: float | None = None


CATEGORIES: tuple[Category, ...] = (
    Category(
        "gas",
        260,
        0.8,
        (0.30, 0.45, 0.18, 0.07),
        "市城市管理和综合执法局",
        ("{p}燃气调压站", "{p}燃气调压站", "{p}天然气加气站", "{p}燃气储配站"),
    ),
    Category(
        "hazardous_chemicals",
        180,
        0.5,
        (0.15, 0.40, 0.30, 0.15),
        "市应急管理局",
        ("西安{p}化工仓储有限公司", "{p}加油站", "{p}危险化学品经营部", "陕西{p}精细化工有限公司"),
        factor=SUBURBS,
    ),
    Category(
        "construction",
        420,
        1.0,
        (0.35, 0.42, 0.18, 0.05),
        "市住房和城乡建设局",
        (
            "{p}安置小区项目工地",
            "{p}综合体项目工地",
            "{p}道路改造工程",
            "{p}学校新建工程",
            "{p}商住楼项目工地",
        ),
        area_share=1.0,
        size_m=(90.0, 300.0),
    ),
    Category(
        "crowded_place",
        520,
        1.3,
        (0.40, 0.40, 0.15, 0.05),
        "市商务局",
        (
            "{p}购物中心",
            "{p}商业街",
            "{p}农贸市场",
            "{p}体育馆",
            "{p}影城",
            "{p}长途汽车站",
            "{p}广场",
        ),
        area_share=0.4,
        size_m=(60.0, 200.0),
    ),
    Category(
        "high_rise",
        380,
        1.4,
        (0.45, 0.38, 0.13, 0.04),
        "市消防救援支队",
        ("{p}国际大厦", "{p}金融中心", "{p}时代广场写字楼", "{p}高层住宅小区", "{p}大厦"),
    ),
    Category(
        "underground_space",
        200,
        1.4,
        (0.40, 0.40, 0.15, 0.05),
        "市人民防空办公室",
        ("{p}地下商业街", "{p}地下停车场", "{p}人防工程", "{p}地下综合管廊"),
        area_share=0.6,
        size_m=(60.0, 180.0),
    ),
    Category(
        "bridge_tunnel",
        210,
        0.9,
        (0.45, 0.38, 0.13, 0.04),
        "市市政公用局",
        ("{p}立交桥", "{p}下穿隧道", "{p}跨河大桥", "{p}人行天桥"),
    ),
    Category(
        "rail_transit",
        150,
        1.3,
        (0.40, 0.40, 0.15, 0.05),
        "西安市轨道交通集团",
        ("地铁{n}号线{p}站",),
    ),
    Category(
        "industrial",
        300,
        0.6,
        (0.45, 0.38, 0.13, 0.04),
        "市应急管理局",
        (
            "西安{p}机械制造有限公司",
            "{p}食品加工厂",
            "{p}冷链物流冷库",
            "{p}建材有限公司",
            "{p}印刷包装厂",
        ),
        factor=SUBURBS,
    ),
    Category(
        "waterlogging_point",
        160,
        1.2,
        (0.35, 0.40, 0.20, 0.05),
        "市城市管理和综合执法局",
        ("{p}下穿通道易涝点", "{p}路口积水点", "{p}铁路桥下积水点"),
    ),
    Category(
        "drainage",
        110,
        0.8,
        (0.45, 0.38, 0.13, 0.04),
        "市水务局",
        ("{p}雨水泵站", "{p}污水处理厂", "{p}排水泵站"),
    ),
    Category(
        "power",
        90,
        0.7,
        (0.40, 0.40, 0.15, 0.05),
        "国网西安供电公司",
        ("{p}110千伏变电站", "{p}330千伏变电站", "{p}开闭所"),
    ),
    Category(
        "heat_supply",
        60,
        1.0,
        (0.40, 0.40, 0.15, 0.05),
        "市城市管理和综合执法局",
        ("{p}热源厂", "{p}换热站", "{p}集中供热站"),
    ),
    Category(
        "water_supply",
        56,
        0.6,
        (0.40, 0.40, 0.15, 0.05),
        "市水务局",
        ("{p}水厂", "{p}加压泵站", "{p}供水站"),
    ),
    Category(
        "geological_hazard",
        80,
        0.0,
        (0.25, 0.45, 0.22, 0.08),
        "市自然资源和规划局",
        ("{p}滑坡隐患点", "{p}崩塌隐患点", "{p}泥石流沟", "{p}黄土边坡隐患点"),
        factor=GEO_DISTRICTS,
        south_of=34.12,
    ),
)
assert sum(c.count for c in CATEGORIES) == TOTAL


def generate(ctx: Context) -> list[Feature]:
    """The risk units, codes RU00001.. in category order."""
    out: list[Feature] = []
    seen: dict[str, int] = {}
    for cat in CATEGORIES:
        rng = ctx.rng(f"risk_units/{cat.code}")
        factor = cat.factor
        if cat.code == "geological_hazard":
            # only the listed districts have them
            live = [a for a in ctx.sampler.districts if a in GEO_DISTRICTS]
            share = np.array([GEO_DISTRICTS[a] for a in live])
            counts = dict.fromkeys(ctx.sampler.districts, 0)
            for a, n in zip(live, apportion(cat.count, share).tolist(), strict=True):
                counts[a] = n
        else:
            counts = ctx.sampler.split(cat.count, rng, gamma=min(cat.gamma, 1.0), factor=factor)
        for adcode, n in counts.items():
            south = cat.south_of if adcode in ("610116", "610122", "610124", "610118") else None
            pts = ctx.sampler.points(adcode, n, rng, gamma=cat.gamma, south_of=south)
            for x, y in pts:
                p = names.place(rng, adcode)
                pattern = cat.patterns[int(rng.integers(len(cat.patterns)))]
                base = pattern.format(p=p, n=int(rng.choice([1, 2, 3, 4, 5, 6, 8, 14])))
                name = names.numbered(base, seen)
                geom = None
                if rng.random() < cat.area_share:
                    w = float(rng.uniform(*cat.size_m))
                    h = float(rng.uniform(cat.size_m[0], cat.size_m[1]))
                    geom = ctx.sampler.footprint(adcode, (x, y), w, h, float(rng.uniform(0, 0.5)))
                if geom is None:
                    geom = Point(x, y)
                out.append(
                    Feature(
                        {
                            "code": f"RU{len(out) + 1:05d}",
                            "name": name,
                            "district": adcode,
                            "category": cat.code,
                            "registered_level": pick(rng, LEVELS, list(cat.level_p)),
                            "control_level": pick(rng, CONTROL, CONTROL_P),
                            "department": cat.department,
                            "contact": names.contact(rng),
                            "address": f"西安市{ctx.district_names[adcode]}{p}",
                        },
                        geom,
                    )
                )
    return out
