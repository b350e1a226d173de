"""geodata.organisations: Xi'an's 28 departments, 20 areas (13 districts, 7 zones) and 204 towns.

The areas and their town counts come from the seed's table 西安市推进基层应急管理体系和
能力建设工作情况统计表, decoded in `geodata/area_statistics.csv` (notes per column and per
garbled cell in `area_statistics_notes.csv`). District boundaries are the real ones the
demo loads; zone boundaries are synthetic discs inside the district each zone sits in; town
boundaries are a synthetic partition of their area (the district less its zones, or the
zone). Every synthetic boundary is marked (`synthetic`, `source`). Sources: SOURCES.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geodata.context import Context
from geodata.districts import ADCODES, INSET_DEG
from geodata.sampling import M_LAT, M_LON

AREA_CSV = Path(__file__).with_name("area_statistics.csv")
NOTES_CSV = Path(__file__).with_name("area_statistics_notes.csv")
RAW_TSV = Path(__file__).parent / "seed" / "area_statistics_raw.tsv"

SEED_SOURCE = "seed 000_3b3990c108109e63.txt"
DEPARTMENT_SOURCE = f"{SEED_SOURCE} (line 127: the member departments of the leading group)"
TOWN_REAL = "name: NBS 统计用区划代码 (as recalled, see SOURCES.md); boundary: demo-synthetic"
TOWN_SYNTHETIC = "name and boundary: demo-synthetic"
DISTRICT_SOURCE = "districts (the real boundary the demo loads)"
ZONE_SOURCE = f"{SEED_SOURCE} area table (garbled row decoded); boundary: demo-synthetic"

#: (code, name, English name): the 28 city departments, all named in the seed (line 127)
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("YJJ", "西安市应急管理局", "Emergency Management Bureau"),
    ("FGW", "西安市发展和改革委员会", "Development and Reform Commission"),
    ("GAJ", "西安市公安局", "Public Security Bureau"),
    ("JYJ", "西安市教育局", "Education Bureau"),
    ("KJJ", "西安市科学技术局", "Science and Technology Bureau"),
    ("GXJ", "西安市工业和信息化局", "Industry and Information Technology Bureau"),
    ("MZW", "西安市民族宗教事务委员会", "Ethnic and Religious Affairs Commission"),
    ("MZJ", "西安市民政局", "Civil Affairs Bureau"),
    ("SFJ", "西安市司法局", "Justice Bureau"),
    ("CZJ", "西安市财政局", "Finance Bureau"),
    ("RSJ", "西安市人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("ZGJ", "西安市自然资源和规划局", "Natural Resources and Planning Bureau"),
    ("HBJ", "西安市生态环境局", "Ecology and Environment Bureau"),
    ("ZJJ", "西安市住房和城乡建设局", "Housing and Urban-Rural Development Bureau"),
    ("CGJ", "西安市城市管理和综合执法局", "Urban Management and Law Enforcement Bureau"),
    ("JTJ", "西安市交通运输局", "Transport Bureau"),
    ("SWJ", "西安市水务局", "Water Affairs Bureau"),
    ("NYJ", "西安市农业农村局", "Agriculture and Rural Affairs Bureau"),
    ("SHWJ", "西安市商务局", "Commerce Bureau"),
    ("WJW", "西安市卫生健康委员会", "Health Commission"),
    ("GZW", "西安市人民政府国有资产监督管理委员会", "State-owned Assets Commission"),
    ("SJJ", "西安市市场监督管理局", "Market Regulation Bureau"),
    ("TYJ", "西安市体育局", "Sports Bureau"),
    ("RFB", "西安市人民防空办公室", "Civil Air Defence Office"),
    ("DSJ", "西安市大数据资源管理局", "Big Data Bureau"),
    ("DZJ", "西安市地震局", "Earthquake Bureau"),
    ("QXJ", "西安市气象局", "Meteorological Bureau"),
    ("XFZD", "西安市消防救援支队", "Fire and Rescue Detachment"),
)
assert len(DEPARTMENTS) == 28

#: the department responsible for each of the 15 risk categories
CATEGORY_DEPARTMENTS: dict[str, str] = {
    "gas": "CGJ",  # gas and heat: the city-management bureau is Xi'an's gas/heat authority
    "heat_supply": "CGJ",
    "construction": "ZJJ",
    "high_rise": "ZJJ",
    "hazardous_chemicals": "YJJ",
    "industrial": "YJJ",
    "crowded_place": "SHWJ",
    "underground_space": "RFB",
    "bridge_tunnel": "CGJ",
    "rail_transit": "JTJ",
    "waterlogging_point": "SWJ",
    "drainage": "SWJ",
    "water_supply": "SWJ",
    "power": "FGW",
    "geological_hazard": "ZGJ",
}

#: zone code -> (host district, centre lon/lat, radius km): where its synthetic disc lies
ZONES: dict[str, tuple[str, tuple[float, float], float]] = {
    "GXQ": ("610113", (108.885, 34.205), 3.0),
    "JKQ": ("610117", (109.02, 34.43), 3.0),
    "QJXQ": ("610113", (108.985, 34.205), 2.5),
    "GWQ": ("610111", (109.06, 34.37), 3.0),
    "HTJD": ("610116", (108.99, 34.14), 2.5),
    "CBQ": ("610111", (109.03, 34.31), 2.5),
    "XXXQ": ("610116", (108.80, 34.20), 5.0),
}

#: the short names zones go by (synthetic town names start with them)
ZONE_SHORT: dict[str, str] = {
    "GXQ": "高新",
    "JKQ": "经开",
    "QJXQ": "曲江",
    "GWQ": "港务",
    "HTJD": "航天",
    "CBQ": "浐灞",
    "XXXQ": "西咸",
}

#: real town and street names per area (as recalled from the NBS lists; see SOURCES.md),
#: topped up with synthetic names where the table gives more towns than listed here
TOWN_NAMES: dict[str, tuple[str, ...]] = {
    "610102": tuple(
        f"{n}街道"
        for n in (
            [
                "西一路",
                "长乐中路",
                "中山门",
                "韩森寨",
                "解放门",
                "自强路",
                "太华路",
                "长乐西路",
                "胡家庙",
            ]
        )
    ),
    "610103": tuple(
        f"{n}街道"
        for n in ["南院门", "柏树林", "长乐坊", "东关南街", "太乙路", "文艺路", "长安路", "张家村"]
    ),
    "610104": tuple(
        f"{n}街道"
        for n in [
            "北院门",
            "青年路",
            "桃园路",
            "西关",
            "土门",
            "红庙坡",
            "环城西路",
            "枣园",
            "北关",
        ]
    ),
    "610111": tuple(
        f"{n}街道" for n in ["纺织城", "十里铺", "红旗", "席王", "洪庆", "狄寨", "灞桥"]
    ),
    "610112": tuple(
        f"{n}街道"
        for n in [
            "张家堡",
            "辛家庙",
            "徐家湾",
            "大明宫",
            "谭家",
            "未央宫",
            "汉城",
            "未央湖",
            "草滩",
            "建章路",
        ]
    ),
    "610113": tuple(
        f"{n}街道"
        for n in ["小寨路", "大雁塔", "长延堡", "电子城", "等驾坡", "鱼化寨", "漳浒寨", "杜城"]
    ),
    "610114": tuple(
        f"{n}街道" for n in ["凤凰路", "新华路", "振兴", "新兴", "北屯", "武屯", "关山"]
    ),
    "610115": tuple(
        f"{n}街道"
        for n in [
            "骊山",
            "秦陵",
            "新丰",
            "代王",
            "斜口",
            "行者",
            "零口",
            "相桥",
            "雨金",
            "马额",
            "西泉",
            "栎阳",
            "新市",
            "徐杨",
            "北田",
            "铁炉",
            "任留",
            "油槐",
            "何寨",
            "交口",
            "穆寨",
            "小金",
            "仁宗",
        ]
    ),
    "610116": tuple(
        f"{n}街道"
        for n in [
            "韦曲",
            "郭杜",
            "滦镇",
            "引镇",
            "太乙宫",
            "子午",
            "杜曲",
            "大兆",
            "黄良",
            "五台",
            "王莽",
            "鸣犊",
            "杨庄",
            "魏寨",
            "王曲",
            "五星",
        ]
    ),
    "610117": tuple(f"{n}街道" for n in ["鹿苑", "姬家", "湾子", "耿镇", "张卜", "通远", "药惠"]),
    "610118": (
        *(f"{n}街道" for n in ["甘亭", "余下", "玉蝉", "五竹"]),
        *(f"{n}镇" for n in ["祖庵", "秦渡", "大王", "蒋村", "庞光", "涝店", "甘河", "石井"]),
    ),
    "610122": (
        "蓝关街道",
        *(
            f"{n}镇"
            for n in [
                "洩湖",
                "华胥",
                "前卫",
                "汤峪",
                "焦岱",
                "玉山",
                "三里",
                "普化",
                "葛牌",
                "蓝桥",
                "辋川",
                "灞源",
                "孟村",
                "安村",
                "小寨",
                "三官庙",
                "九间房",
            ]
        ),
        "厚镇",
    ),
    "610124": (
        "二曲街道",
        *(
            f"{n}镇"
            for n in [
                "哑柏",
                "终南",
                "马召",
                "集贤",
                "楼观",
                "尚村",
                "广济",
                "厚畛子",
                "四屯",
                "竹峪",
                "青化",
                "翠峰",
                "九峰",
                "富仁",
                "司竹",
                "骆峪",
                "陈河",
                "板房子",
                "王家河",
            ]
        ),
    ),
    "GXQ": tuple(f"{n}街道" for n in ["丈八沟", "兴隆", "细柳", "东大", "灵沼", "草堂", "渭丰"]),
    "JKQ": ("泾渭街道", "崇皇街道"),
    "QJXQ": ("曲江街道",),
    "GWQ": ("新筑街道", "新合街道"),
    "HTJD": (),
    "CBQ": ("广运潭街道", "雁鸣湖街道"),
    "XXXQ": tuple(
        f"{n}街道"
        for n in [
            "三桥",
            "六村堡",
            "王寺",
            "斗门",
            "马王",
            "高桥",
            "底张",
            "北杜",
            "泾干",
            "窑店",
            "正阳",
            "周陵",
            "永乐",
            "崇文",
            "高庄",
            "太平",
        ]
    ),
}

#: the 9 areas holding one city-level depot each (the municipal reserve)
CITY_DEPOT_AREAS: tuple[str, ...] = (
    "610102",
    "610103",
    "610104",
    "610113",
    "610112",
    "610111",
    "610116",
    "610115",
    "GXQ",
)
CITY_STOCK_TOTAL = 325_966
BROADCASTS_TOTAL = 2_248


@dataclass(frozen=True)
class AreaStat:
    """One row of the decoded table: an area and the figures the demo builds from."""

    row: int
    code: str
    name: str
    kind: str
    towns: int
    depots: int
    stock: int
    broadcasts: int | None


@cache
def table() -> tuple[dict[str, str], ...]:
    """The decoded table's rows as strings (totals row included, last)."""
    with AREA_CSV.open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def areas() -> list[AreaStat]:
    """The 20 areas in the table's order, with the figures that shape the demo."""
    out = []
    for r in table():
        if r["kind"] == "total":
            continue
        out.append(
            AreaStat(
                int(r["row"]),
                r["area_code"],
                r["area_name"],
                r["kind"],
                int(r["towns"]),
                int(r["depots"]),
                int(r["stock"]),
                int(r["broadcasts"]) if r["broadcasts"] else None,
            )
        )
    return out


def totals() -> dict[str, str]:
    """The table's totals row (合计) as printed."""
    return next(r for r in table() if r["kind"] == "total")


@dataclass
class Org:
    """One organisation row: a department (no boundary) or an area or town (a boundary)."""

    code: str
    name: str
    kind: str
    parent: str | None
    synthetic: bool
    source: str
    geom: MultiPolygon | None = None
    name_en: str | None = None


@dataclass
class Geography:
    """The organisations and the polygons the generators place features in."""

    orgs: list[Org]
    #: area code -> where its own features go (a district less its zones, or a zone)
    ground: dict[str, BaseGeometry]
    #: area code -> host district adcode (itself for a district)
    host: dict[str, str]
    #: area code -> its towns (code, name, polygon)
    towns: dict[str, list[tuple[str, str, BaseGeometry]]]


def _multi(geom: BaseGeometry) -> MultiPolygon:
    geom = shapely.make_valid(geom)
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and g.area > 0]
    return MultiPolygon(parts)


def _disc(centre: tuple[float, float], radius_km: float) -> Polygon:
    """A disc of radius_km around centre, in degrees at Xi'an's latitude."""
    a = np.linspace(0, 2 * np.pi, 65)[:-1]
    x = centre[0] + radius_km * 1000 * np.cos(a) / M_LON
    y = centre[1] + radius_km * 1000 * np.sin(a) / M_LAT
    return Polygon(np.column_stack([x, y]))


def uniform_points(
    area: BaseGeometry, n: int, rng: np.random.Generator
) -> np.ndarray[tuple[int, int], np.dtype[np.float64]]:
    """n points uniformly inside area (rejection from its bounding box), rounded to 1e-7°."""
    if n == 0:
        return np.zeros((0, 2))
    shapely.prepare(area)
    x0, y0, x1, y1 = area.bounds
    out: list[np.ndarray] = []
    need = n
    for _ in range(10_000):
        k = max(need * 4, 64)
        x = x0 + rng.random(k) * (x1 - x0)
        y = y0 + rng.random(k) * (y1 - y0)
        ok = shapely.contains_xy(area, x, y)
        got = np.column_stack([x[ok], y[ok]])[:need]
        out.append(got)
        need -= len(got)
        if need == 0:
            break
    else:  # pragma: no cover - only for degenerate areas
        raise RuntimeError("could not place points in an area")
    return np.asarray(np.round(np.concatenate(out), 7), dtype=np.float64)


def partition(area: BaseGeometry, n: int, rng: np.random.Generator) -> list[MultiPolygon]:
    """Split area into n contiguous-ish parts of similar size (Voronoi of k-means seeds)."""
    if n == 1:
        return [_multi(area)]
    pts = uniform_points(area, max(200 * n, 2000), rng)
    centres = pts[rng.choice(len(pts), size=n, replace=False)]
    for _ in range(20):
        d = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        lab = d.argmin(axis=1)
        centres = np.array(
            [pts[lab == i].mean(axis=0) if (lab == i).any() else centres[i] for i in range(n)]
        )
    # snap each seed to a sample point (inside the area) so its cell meets the area
    d = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    seeds = pts[d.argmin(axis=0)]
    seeds = np.unique(seeds, axis=0)
    while len(seeds) < n:  # duplicate snaps: add further sample points
        seeds = np.unique(np.vstack([seeds, pts[rng.integers(len(pts))]]), axis=0)
    order = np.lexsort((seeds[:, 0], -seeds[:, 1]))  # north to south, then west to east
    seeds = seeds[order]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint(seeds), extend_to=area.envelope.buffer(0.5))
    )
    out: list[MultiPolygon] = []
    for sx, sy in seeds:
        cell = next(c for c in cells if c.covers(Point(sx, sy)))
        out.append(_multi(shapely.intersection(cell, area)))
    return out


def build(ctx: Context) -> Geography:
    """Departments, districts, zones and towns with their boundaries, deterministically."""
    rng = ctx.rng("organisations")
    districts = {d.adcode: d for d in ctx.districts}
    orgs = [
        Org(code, name, "department", None, False, DEPARTMENT_SOURCE, None, en)
        for code, name, en in DEPARTMENTS
    ]
    ground: dict[str, BaseGeometry] = {}
    host: dict[str, str] = {}
    zone_geom: dict[str, MultiPolygon] = {}
    taken: BaseGeometry = Polygon()
    for code, (adcode, centre, radius) in ZONES.items():
        inner = districts[adcode].inner
        c = Point(centre)
        if not inner.contains(c):
            c = nearest_points(inner, c)[0]
        shape = _multi(
            shapely.difference(
                shapely.intersection(_disc((c.x, c.y), radius), districts[adcode].geom), taken
            )
        )
        zone_geom[code] = shape
        taken = shapely.union(taken, shape)
    stats = {a.code: a for a in areas()}
    for adcode in ADCODES:
        d = districts[adcode]
        orgs.append(Org(adcode, d.name, "district", None, False, DISTRICT_SOURCE, d.geom))
        zones_here = [z for z, (h, _, _) in ZONES.items() if h == adcode]
        rest: BaseGeometry = d.geom
        for z in zones_here:
            rest = shapely.difference(rest, zone_geom[z])
        ground[adcode] = _multi(rest)
        host[adcode] = adcode
    for code, geom in zone_geom.items():
        orgs.append(Org(code, stats[code].name, "zone", None, True, ZONE_SOURCE, geom))
        ground[code] = geom
        host[code] = ZONES[code][0]
    towns: dict[str, list[tuple[str, str, BaseGeometry]]] = {}
    for a in areas():
        real = TOWN_NAMES[a.code]
        short = ZONE_SHORT.get(a.code) or a.name.removesuffix("区").removesuffix("县")
        parts = partition(ground[a.code], a.towns, rng)
        towns[a.code] = []
        for i, geom in enumerate(parts):
            synthetic_name = i >= len(real)
            name = f"{short}第{i + 1}街道（虚拟）" if synthetic_name else real[i]
            code = f"{a.code}{i + 1:03d}"
            src = TOWN_SYNTHETIC if synthetic_name else TOWN_REAL
            orgs.append(Org(code, name, "town", a.code, True, src, geom))
            towns[a.code].append((code, name, geom))
    return Geography(orgs, ground, host, towns)


def inset(geom: BaseGeometry) -> BaseGeometry:
    """The polygon shrunk by ~30 m (the polygon itself when that leaves nothing)."""
    shrunk = geom.buffer(-INSET_DEG)
    return shrunk if not shrunk.is_empty else geom
