"""geodata.resources: depots and stock, teams, broadcasts, enterprises, shelters, vulnerable sites.

Sized to the seed's figures: 489 depots holding 325,966 items; 43 professional
teams with 3,768 people plus 13 social forces; 2,248 broadcast terminals; 16
capacity-guarantee enterprises with 51 kinds of items, 4,400,000 in all.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geodata import names, organisations
from geodata.context import Context, Feature, pick
from geodata.districts import ADCODES
from geodata.organisations import CITY_DEPOT_AREAS, Geography, areas
from geodata.population import apportion

DEPOTS = 489
DEPOT_ITEMS_TOTAL = 325_966
PROFESSIONAL_TEAMS = 43
PROFESSIONAL_PEOPLE = 3_768
SOCIAL_TEAMS = 13
BROADCASTS = 2_248
ENTERPRISES = 16
CAPACITY_KINDS = 51
CAPACITY_TOTAL = 4_400_000

#: (item, unit, weight): what depots hold, weighted by how much of it they hold
DEPOT_ITEMS: tuple[tuple[str, str, float], ...] = (
    ("帐篷", "顶", 3),
    ("折叠床", "张", 4),
    ("棉被", "床", 10),
    ("棉大衣", "件", 6),
    ("毛毯", "条", 6),
    ("救生衣", "件", 5),
    ("冲锋舟", "艘", 0.1),
    ("橡皮艇", "艘", 0.2),
    ("发电机", "台", 0.3),
    ("应急照明灯", "台", 2),
    ("手电筒", "个", 5),
    ("防汛沙袋", "条", 30),
    ("编织袋", "条", 25),
    ("铁锹", "把", 4),
    ("雨衣", "件", 6),
    ("雨靴", "双", 5),
    ("灭火器", "具", 5),
    ("急救包", "个", 3),
    ("担架", "副", 0.5),
    ("医用口罩", "箱", 2),
    ("矿泉水", "箱", 8),
    ("方便食品", "箱", 7),
    ("抽水泵", "台", 0.3),
    ("安全帽", "顶", 3),
    ("警戒带", "卷", 2),
    ("喊话器", "个", 0.5),
    ("睡袋", "个", 4),
    ("折叠桌椅", "套", 1.5),
)

#: 51 kinds of emergency goods the capacity-guarantee enterprises can make or supply
CAPACITY_ITEMS: tuple[tuple[str, str], ...] = (
    ("帐篷", "顶"),
    ("棉被", "床"),
    ("棉大衣", "件"),
    ("折叠床", "张"),
    ("睡袋", "个"),
    ("毛毯", "条"),
    ("防汛沙袋", "条"),
    ("编织袋", "条"),
    ("土工布", "平方米"),
    ("钢管", "根"),
    ("救生衣", "件"),
    ("雨衣", "件"),
    ("雨靴", "双"),
    ("安全帽", "顶"),
    ("防护服", "套"),
    ("医用外科口罩", "只"),
    ("N95口罩", "只"),
    ("医用手套", "副"),
    ("护目镜", "副"),
    ("消毒液", "升"),
    ("酒精", "升"),
    ("体温计", "支"),
    ("急救包", "个"),
    ("担架", "副"),
    ("矿泉水", "箱"),
    ("方便面", "箱"),
    ("面粉", "袋"),
    ("大米", "袋"),
    ("食用油", "桶"),
    ("饼干", "箱"),
    ("自热米饭", "盒"),
    ("罐头", "箱"),
    ("牛奶", "箱"),
    ("发电机", "台"),
    ("应急照明灯", "台"),
    ("手电筒", "个"),
    ("电池", "节"),
    ("电缆", "米"),
    ("抽水泵", "台"),
    ("水管", "米"),
    ("铁锹", "把"),
    ("撬棍", "根"),
    ("灭火器", "具"),
    ("消防水带", "盘"),
    ("活动板房", "间"),
    ("移动厕所", "座"),
    ("净水设备", "台"),
    ("折叠桌椅", "套"),
    ("棉衣", "件"),
    ("棉鞋", "双"),
    ("柴油", "吨"),
)
assert len(CAPACITY_ITEMS) == CAPACITY_KINDS

SPECIALITIES: tuple[tuple[str, str, str], ...] = (
    ("消防救援", "消防救援站", "水罐消防车、抢险救援车、登高平台消防车"),
    ("危化品救援", "危险化学品应急救援队", "防化洗消车、气体检测仪、堵漏器材"),
    ("矿山救援", "矿山救护队", "正压氧气呼吸器、生命探测仪、救护车"),
    ("水域救援", "水域救援队", "冲锋舟、潜水装备、救生抛投器"),
    ("地震救援", "地震应急救援队", "生命探测仪、破拆工具组、液压顶撑"),
    ("医疗救护", "医疗救护队", "负压救护车、移动手术单元、急救包"),
    ("电力抢修", "电力应急抢修队", "应急发电车、抢修车、绝缘工器具"),
    ("燃气抢险", "燃气抢险队", "燃气检测仪、带压堵漏设备、抢险车"),
    ("供水抢修", "供水抢修队", "挖掘机、抽水泵、管道抢修器材"),
    ("通信保障", "应急通信保障队", "卫星通信车、便携基站、无人机"),
    ("森林灭火", "森林消防队", "风力灭火机、水泵、灭火水枪"),
    ("工程抢险", "工程抢险队", "挖掘机、装载机、吊车"),
    ("防汛抢险", "防汛抢险队", "抽水泵车、冲锋舟、沙袋"),
)
SOCIAL_NAMES: tuple[str, ...] = (
    "应急救援志愿服务队",
    "山地搜救队",
    "水上搜救志愿队",
    "户外救援协会",
    "红十字救护队",
    "民兵应急分队",
    "社区应急志愿者服务队",
    "公益救援队",
)
INDUSTRIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("纺织服装", (0, 1, 2, 4, 5, 48, 49, 11)),
    ("帐篷篷布", (0, 3, 8, 6, 7, 44)),
    ("医疗器械", (15, 16, 17, 18, 21, 22, 23, 14)),
    ("医药化工", (19, 20, 14, 17)),
    ("食品饮料", (24, 25, 29, 30, 31, 32)),
    ("粮油加工", (26, 27, 28)),
    ("电气设备", (33, 34, 35, 36, 37)),
    ("机械制造", (38, 39, 40, 41, 9)),
    ("消防器材", (42, 43, 10, 13)),
    ("建材钢构", (44, 45, 9, 8)),
    ("环保设备", (46, 39, 19)),
    ("家具", (47, 3, 44)),
    ("橡塑制品", (6, 7, 12, 39, 10, 17)),
    ("石油销售", (50,)),
    ("日用百货", (35, 36, 4, 5, 11)),
    ("鞋帽", (49, 12, 13, 48)),
)
assert len(INDUSTRIES) == ENTERPRISES
assert {i for _, items in INDUSTRIES for i in items} == set(range(CAPACITY_KINDS))


def depots(ctx: Context, geo: Geography) -> tuple[list[Feature], list[tuple[str, str, int, str]]]:
    """489 depots per area as the seed's table gives them, and their stock rows.

    Each area's district-level and street depots hold exactly the table's stock for the
    area; the 9 city-level depots (one in each of CITY_DEPOT_AREAS) hold the rest of the
    city's 325,966 items, the municipal reserve the table does not break down.
    """
    rng = ctx.rng("reserve_depots")
    out: list[Feature] = []
    raw: dict[str, list[tuple[str, str, float, str]]] = {}
    seen: dict[str, int] = {}
    table = areas()
    assert sum(a.depots for a in table) == DEPOTS
    for a in table:
        if a.depots == 0:
            continue
        levels = ["city"] if a.code in CITY_DEPOT_AREAS else []
        levels += ["district"] + ["street"] * (a.depots - len(levels) - 1)
        towns = geo.towns[a.code]
        for i, level in enumerate(levels):
            if level == "street":
                tcode, tname, tgeom = towns[i % len(towns)]
                ((x, y),) = organisations.uniform_points(organisations.inset(tgeom), 1, rng)
                place = tname
            else:
                ground = organisations.inset(geo.ground[a.code])
                ((x, y),) = organisations.uniform_points(ground, 1, rng)
                place = names.place(rng, geo.host[a.code])
            base = {
                "city": f"西安市应急物资{place}储备库",
                "district": f"{a.name}应急物资储备库",
                "street": f"{place}应急物资储备点",
            }[level]
            code = f"DP{len(out) + 1:04d}"
            out.append(
                Feature(
                    {
                        "code": code,
                        "name": names.numbered(base, seen),
                        "district": geo.host[a.code],
                        "level": level,
                        "manager": {
                            "city": "西安市应急管理局",
                            "district": f"{a.name}应急管理局"
                            if a.kind == "district"
                            else f"{a.name}管委会",
                            "street": f"{place}办事处"
                            if place.endswith("街道")
                            else f"{place}人民政府",
                        }[level],
                        "contact": names.contact(rng),
                    },
                    Point(float(x), float(y)),
                )
            )
            kinds = {"city": (18, 28), "district": (10, 18), "street": (4, 9)}[level]
            scale = {"city": 40.0, "district": 8.0, "street": 1.0}[level]
            pick_n = int(rng.integers(kinds[0], kinds[1] + 1))
            chosen = rng.choice(len(DEPOT_ITEMS), size=pick_n, replace=False)
            pot = "city" if level == "city" else a.code
            for j in sorted(chosen.tolist()):
                item, unit, weight = DEPOT_ITEMS[j]
                raw.setdefault(pot, []).append(
                    (code, item, scale * weight * float(rng.lognormal(0, 0.5)), unit)
                )
    totals = {a.code: a.stock for a in table} | {
        "city": DEPOT_ITEMS_TOTAL - sum(a.stock for a in table)
    }
    stock: list[tuple[str, str, int, str]] = []
    for pot, rows in raw.items():
        qty = apportion(totals[pot], np.array([r[2] for r in rows]), 1)
        stock += [(c, item, int(q), unit) for (c, item, _, unit), q in zip(rows, qty, strict=True)]
    stock.sort(key=lambda r: (r[0], r[1]))
    return out, stock


def rescue_teams(ctx: Context) -> list[Feature]:
    """43 professional teams (3,768 people) and 13 social forces, at their bases."""
    rng = ctx.rng("rescue_teams")
    out: list[Feature] = []
    seen: dict[str, int] = {}
    spec_idx = [i % len(SPECIALITIES) for i in range(PROFESSIONAL_TEAMS)]
    heads = apportion(PROFESSIONAL_PEOPLE, rng.lognormal(0, 0.45, PROFESSIONAL_TEAMS), 25)
    counts = ctx.sampler.split(PROFESSIONAL_TEAMS, rng, gamma=0.8, minimum=1)
    bases = [(a, xy) for a, n in counts.items() for xy in ctx.sampler.points(a, n, rng, 0.7)]
    order = rng.permutation(len(bases))
    for i, (si, head) in enumerate(zip(spec_idx, heads.tolist(), strict=True)):
        adcode, (x, y) = bases[int(order[i])]
        speciality, suffix, equipment = SPECIALITIES[si]
        p = names.place(rng, adcode)
        out.append(
            Feature(
                {
                    "code": f"RT{len(out) + 1:03d}",
                    "name": names.numbered(f"西安市{p}{suffix}", seen),
                    "district": adcode,
                    "kind": "professional",
                    "speciality": speciality,
                    "headcount": int(head),
                    "equipment": equipment,
                    "contact": names.contact(rng),
                },
                Point(float(x), float(y)),
            )
        )
    social = ctx.sampler.split(SOCIAL_TEAMS, rng, gamma=0.6)
    for adcode, n in social.items():
        for x, y in ctx.sampler.points(adcode, n, rng, 0.7):
            sname = SOCIAL_NAMES[int(rng.integers(len(SOCIAL_NAMES)))]
            spec = "山地搜救" if "山地" in sname else ("水域救援" if "水" in sname else "综合救援")
            out.append(
                Feature(
                    {
                        "code": f"RT{len(out) + 1:03d}",
                        "name": names.numbered(f"{ctx.district_names[adcode]}{sname}", seen),
                        "district": adcode,
                        "kind": "social",
                        "speciality": spec,
                        "headcount": int(rng.integers(15, 160)),
                        "equipment": "绳索救援装备、对讲机、急救包",
                        "contact": names.contact(rng),
                    },
                    Point(float(x), float(y)),
                )
            )
    return out


def broadcasts(ctx: Context, geo: Geography) -> list[Feature]:
    """2,248 emergency broadcast terminals: per area as the seed's table gives them; the
    terminals it does not break down go to the areas it leaves blank, by population**0.6."""
    rng = ctx.rng("broadcasts")
    out: list[Feature] = []
    label = {
        "loudspeaker": "应急广播音柱",
        "led_screen": "应急信息LED屏",
        "radio": "应急广播收扩机",
    }
    table = areas()
    counts = {a.code: a.broadcasts for a in table if a.broadcasts is not None}
    blank = [a.code for a in table if a.broadcasts is None]
    pop = np.array([area_population(ctx, geo.ground[c]) for c in blank], dtype=np.float64)
    rest = apportion(BROADCASTS - sum(counts.values()), pop**0.6, 0)
    counts |= dict(zip(blank, rest.tolist(), strict=True))
    for a in table:
        n = counts[a.code]
        adcode = geo.host[a.code]
        for x, y in organisations.uniform_points(organisations.inset(geo.ground[a.code]), n, rng):
            kind = pick(rng, ("loudspeaker", "led_screen", "radio"), [0.7, 0.15, 0.15])
            out.append(
                Feature(
                    {
                        "code": f"BC{len(out) + 1:05d}",
                        "name": f"{names.place(rng, adcode)}{label[kind]}{len(out) + 1:05d}",
                        "district": adcode,
                        "kind": kind,
                        "status": pick(rng, ("online", "offline"), [0.96, 0.04]),
                    },
                    Point(float(x), float(y)),
                )
            )
    return out


def area_population(ctx: Context, area: BaseGeometry) -> int:
    """Residents of the population-grid cells whose centre lies in area."""
    c = shapely.centroid(ctx.grid.geoms)
    inside = shapely.contains_xy(area, shapely.get_x(c), shapely.get_y(c))
    return int(ctx.grid.population[inside].sum())


def enterprises(ctx: Context) -> tuple[list[Feature], list[tuple[str, str, int, str]]]:
    """16 capacity-guarantee enterprises and what they can supply: 51 kinds, 4,400,000 items."""
    rng = ctx.rng("capacity_enterprises")
    out: list[Feature] = []
    raw: list[tuple[str, str, float, str]] = []
    outer = {a: 1.0 for a in ADCODES} | {"610102": 0.1, "610103": 0.1, "610104": 0.2}
    counts = ctx.sampler.split(ENTERPRISES, rng, gamma=0.5, factor=outer)
    sites = [(a, xy) for a, n in counts.items() for xy in ctx.sampler.points(a, n, rng, 0.5)]
    for i, (industry, items) in enumerate(INDUSTRIES):
        adcode, (x, y) = sites[i]
        code = f"CE{i + 1:02d}"
        out.append(
            Feature(
                {
                    "code": code,
                    "name": f"陕西{names.place(rng, adcode)}{industry}有限公司",
                    "district": adcode,
                    "industry": industry,
                    "contact": names.contact(rng),
                },
                Point(float(x), float(y)),
            )
        )
        for j in items:
            item, unit = CAPACITY_ITEMS[j]
            raw.append((code, item, float(rng.lognormal(0, 0.8)), unit))
    qty = apportion(CAPACITY_TOTAL, np.array([r[2] for r in raw]), 100)
    rows = [(c, item, int(q), unit) for (c, item, _, unit), q in zip(raw, qty, strict=True)]
    return out, rows


def shelters(ctx: Context) -> list[Feature]:
    """Emergency shelters per district: many small emergency ones, fixed ones, a few central."""
    rng = ctx.rng("shelters")
    out: list[Feature] = []
    seen: dict[str, int] = {}
    spec = {
        # type: (count, capacity range, m² per person, name patterns, polygon share)
        "emergency": (
            780,
            (500, 3000),
            1.5,
            ("{p}社区应急避难场所", "{p}小学应急避难场所", "{p}街头游园避难点"),
            0.0,
        ),
        "fixed": (
            300,
            (3000, 20000),
            2.0,
            ("{p}公园固定避难场所", "{p}体育场固定避难场所", "{p}中学固定避难场所"),
            0.5,
        ),
        "central": (24, (20000, 100000), 2.0, ("{p}中心避难场所",), 1.0),
    }
    for typ, (n, cap, per, patterns, poly_share) in spec.items():
        counts = ctx.sampler.split(n, rng, gamma=0.9, minimum=1)
        for adcode, k in counts.items():
            for x, y in ctx.sampler.points(adcode, k, rng, gamma=0.9):
                capacity = int(rng.integers(cap[0], cap[1]) // 10 * 10)
                area = float(capacity * per)
                p = names.place(rng, adcode)
                pattern = patterns[int(rng.integers(len(patterns)))]
                geom: BaseGeometry = Point(float(x), float(y))
                if rng.random() < poly_share:
                    side = float(np.sqrt(area))
                    geom = ctx.sampler.footprint(
                        adcode,
                        (float(x), float(y)),
                        side * 1.2,
                        side / 1.2,
                        float(rng.uniform(0, 0.4)),
                    )
                out.append(
                    Feature(
                        {
                            "code": f"SH{len(out) + 1:04d}",
                            "name": names.numbered(pattern.format(p=p), seen),
                            "district": adcode,
                            "type": typ,
                            "capacity": capacity,
                            "area_m2": area,
                            "occupied": 0,
                            "address": f"西安市{ctx.district_names[adcode]}{p}",
                        },
                        geom,
                    )
                )
    return out


def vulnerable_sites(ctx: Context) -> list[Feature]:
    """Schools, kindergartens, hospitals and nursing homes, where people live."""
    rng = ctx.rng("vulnerable_sites")
    out: list[Feature] = []
    seen: dict[str, int] = {}
    spec = {
        "school": (900, ("{p}小学", "{p}中学", "{p}第{n}中学", "{p}实验学校"), (400, 3000)),
        "kindergarten": (1100, ("{p}幼儿园", "{p}第{n}幼儿园", "{p}双语幼儿园"), (80, 500)),
        "hospital": (260, ("{p}医院", "{p}社区卫生服务中心", "{p}中医医院"), (100, 3000)),
        "nursing_home": (190, ("{p}养老院", "{p}老年公寓", "{p}颐养中心"), (30, 400)),
    }
    for kind, (n, patterns, occ) in spec.items():
        counts = ctx.sampler.split(n, rng, gamma=1.0, minimum=2)
        for adcode, k in counts.items():
            for x, y in ctx.sampler.points(adcode, k, rng, gamma=1.0):
                p = names.place(rng, adcode)
                pattern = patterns[int(rng.integers(len(patterns)))]
                out.append(
                    Feature(
                        {
                            "code": f"VS{len(out) + 1:05d}",
                            "name": names.numbered(
                                pattern.format(p=p, n=int(rng.integers(1, 90))), seen
                            ),
                            "district": adcode,
                            "kind": kind,
                            "occupants": int(rng.integers(occ[0], occ[1])),
                        },
                        Point(float(x), float(y)),
                    )
                )
    return out
