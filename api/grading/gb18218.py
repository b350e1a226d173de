"""api.grading.gb18218: GB 18218-2018 identification and grading of major hazard sources.

Source: GB 18218-2018《危险化学品重大危险源辨识》(Identification of major hazard
installations for hazardous chemicals), issued 2018-11-19, in force 2019-03-01:
Table 1 (85 named hazardous chemicals and their threshold quantities Q),
Table 2 (categories not named in Table 1, symbols J1-J5 and W1.1-W11, and their
Q), §4.3 Table 3 (β of the named toxic gases), Table 4 (β by category),
Table 5 (α by people outside the plant within 500 m) and Table 6 (grades by R).
Transcribed from the standard's text (front matter at
http://www.jianbiaoku.com/webarbs/book/70409/4803690.shtml) and cross-checked,
row by row (number, name, CAS, Q), against public transcriptions of the
standard's PDF found with the project's code search; the β values are the ones
docs/grading-model.md gives. Quantities are in tonnes.

Carbon monoxide has no row of its own in Table 1: it is row 13, 煤气(CO, CO和H2、
CH4的混合物等), Q = 20 t (two independent transcriptions of Table 1 agree; the
2009 edition has the same row and Q), and Table 3 gives CO β = 2.

β (§4.3): Table 3 for the toxic gases it names; otherwise Table 4 by the
substance's hazard class. Every Table 1 row carries its class (`hazard_class`,
a Table 2 symbol): the class its GHS classification puts it in; where it falls
in several, the one with the largest β. A row none of Table 2's classes fits
(sulphur trioxide: corrosive only) takes Table 4's "other" β of 1. The classes
were assigned from the substances' published GHS classifications, not checked
line by line against the text of the 危险化学品目录 (2015) 实施指南, which the
project could not reach; a correction is one entry of HAZARD_CLASS, and the
importer and the demo follow it. This module is the one table: the importer takes Q
and β of `hazard_substances` from it, the demo builds its substances from it.

Identification: S = Σ qᵢ/Qᵢ ≥ 1 makes a major hazard source. Grading:
R = α · Σ βᵢ · qᵢ/Qᵢ; 一级 R ≥ 100, 二级 50 ≤ R < 100, 三级 10 ≤ R < 50,
四级 R < 10. Floating point, like the store's trigger
(`onemap_gb18218_refresh` in migration 0001).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NamedSubstance:
    """One row of Table 1."""

    no: int
    name_zh: str
    aliases_zh: tuple[str, ...]
    name_en: str
    cas: tuple[str, ...]
    q_tonnes: float
    #: the Table 2 / Table 4 class (symbol) β derives from when Table 3 does not name it
    hazard_class: str | None = None


def _s(no: int, zh: str, aliases: str, en: str, cas: str, q: float) -> NamedSubstance:
    return NamedSubstance(
        no,
        zh,
        tuple(a for a in aliases.split(";") if a),
        en,
        tuple(c for c in cas.split(";") if c),
        q,
    )


#: Table 1: 危险化学品名称及其临界量 (number, name, aliases, English, CAS, Q in t).
_ROWS: tuple[NamedSubstance, ...] = (
    _s(1, "氨", "液氨;氨气", "ammonia", "7664-41-7", 10),
    _s(2, "二氟化氧", "一氧化二氟", "oxygen difluoride", "7783-41-7", 1),
    _s(3, "二氧化氮", "", "nitrogen dioxide", "10102-44-0", 1),
    _s(4, "二氧化硫", "亚硫酸酐", "sulphur dioxide", "7446-09-5", 20),
    _s(5, "氟", "", "fluorine", "7782-41-4", 1),
    _s(6, "碳酰氯", "光气", "phosgene", "75-44-5", 0.3),
    _s(7, "环氧乙烷", "氧化乙烯", "ethylene oxide", "75-21-8", 10),
    _s(8, "甲醛(含量>90%)", "蚁醛", "formaldehyde (>90%)", "50-00-0", 5),
    _s(9, "磷化氢", "磷化三氢;膦", "phosphine", "7803-51-2", 1),
    _s(10, "硫化氢", "", "hydrogen sulphide", "7783-06-4", 5),
    _s(11, "氯化氢(无水)", "氯化氢", "hydrogen chloride (anhydrous)", "7647-01-0", 20),
    _s(12, "氯", "液氯;氯气", "chlorine", "7782-50-5", 5),
    # CO itself (一氧化碳, Table 3) is covered by this entry.
    _s(
        13,
        "煤气(CO,CO和H2、CH4的混合物等)",
        "煤气;一氧化碳",
        "coal gas (CO, mixtures of CO with H2, CH4 ...)",
        "630-08-0",
        20,
    ),  # fmt: skip
    _s(14, "砷化氢", "砷化三氢;胂", "arsine", "7784-42-1", 1),
    _s(15, "锑化氢", "三氢化锑;锑化三氢", "stibine", "7803-52-3", 1),
    _s(16, "硒化氢", "", "hydrogen selenide", "7783-07-5", 1),
    _s(17, "溴甲烷", "甲基溴", "methyl bromide", "74-83-9", 10),
    _s(18, "丙酮氰醇", "丙酮合氰化氢;2-羟基异丁腈;氰丙醇", "acetone cyanohydrin", "75-86-5", 20),
    _s(19, "丙烯醛", "烯丙醛;败脂醛", "acrolein", "107-02-8", 20),
    _s(20, "氟化氢", "", "hydrogen fluoride", "7664-39-3", 1),
    _s(
        21, "1-氯-2,3-环氧丙烷", "环氧氯丙烷;3-氯-1,2-环氧丙烷", "epichlorohydrin", "106-89-8", 20
    ),  # fmt: skip
    _s(
        22,
        "3-溴-1,2-环氧丙烷",
        "环氧溴丙烷;溴甲基环氧乙烷;表溴醇",
        "epibromohydrin",
        "3132-64-7",
        20,
    ),  # fmt: skip
    _s(23, "甲苯二异氰酸酯", "二异氰酸甲苯酯;TDI", "toluene diisocyanate", "26471-62-5", 100),
    _s(24, "一氯化硫", "氯化硫", "sulphur monochloride", "10025-67-9", 1),
    _s(25, "氰化氢", "无水氢氰酸", "hydrogen cyanide", "74-90-8", 1),
    _s(26, "三氧化硫", "硫酸酐", "sulphur trioxide", "7446-11-9", 75),
    _s(27, "3-氨基丙烯", "烯丙胺", "allylamine", "107-11-9", 20),
    _s(28, "溴", "溴素", "bromine", "7726-95-6", 20),
    _s(29, "乙撑亚胺", "吖丙啶;1-氮杂环丙烷;氮丙啶", "ethyleneimine", "151-56-4", 20),
    _s(30, "异氰酸甲酯", "甲基异氰酸酯", "methyl isocyanate", "624-83-9", 0.75),
    _s(31, "叠氮化钡", "叠氮钡", "barium azide", "18810-58-7", 0.5),
    _s(32, "叠氮化铅", "", "lead azide", "13424-46-9", 0.5),
    _s(33, "雷汞", "二雷酸汞;雷酸汞", "mercury fulminate", "628-86-4", 0.5),
    _s(34, "三硝基苯甲醚", "三硝基茴香醚", "trinitroanisole", "28653-16-9", 5),
    _s(35, "2,4,6-三硝基甲苯", "梯恩梯;TNT", "2,4,6-trinitrotoluene", "118-96-7", 5),
    _s(36, "硝化甘油", "硝化丙三醇;甘油三硝酸酯", "nitroglycerin", "55-63-0", 1),
    _s(
        37,
        "硝化纤维素[干的或含水(或乙醇)<25%]",
        "",
        "nitrocellulose (dry, or water or ethanol < 25%)",
        "9004-70-0",
        1,
    ),  # fmt: skip
    _s(
        38,
        "硝化纤维素(未改型的,或增塑的,含增塑剂<18%)",
        "",
        "nitrocellulose (unmodified, or plasticised with < 18% plasticiser)",
        "9004-70-0",
        1,
    ),  # fmt: skip
    _s(
        39, "硝化纤维素(含乙醇≥25%)", "硝化棉", "nitrocellulose (ethanol >= 25%)", "9004-70-0", 10
    ),  # fmt: skip
    _s(40, "硝化纤维素(含氮≤12.6%)", "", "nitrocellulose (nitrogen <= 12.6%)", "", 50),
    _s(41, "硝化纤维素(含水≥25%)", "", "nitrocellulose (water >= 25%)", "", 50),
    _s(
        42,
        "硝化纤维素溶液(含氮量≤12.6%,含硝化纤维素≤55%)",
        "硝化棉溶液",
        "nitrocellulose solution (nitrogen <= 12.6%, nitrocellulose <= 55%)",
        "",
        50,
    ),  # fmt: skip
    _s(
        43,
        "硝酸铵(含可燃物>0.2%,包括以碳计算的任何有机物,但不包括任何其他添加剂)",
        "",
        "ammonium nitrate (combustible matter > 0.2%)",
        "6484-52-2",
        5,
    ),  # fmt: skip
    _s(
        44,
        "硝酸铵(含可燃物≤0.2%)",
        "",
        "ammonium nitrate (combustible matter <= 0.2%)",
        "6484-52-2",
        50,
    ),  # fmt: skip
    _s(
        45,
        "硝酸铵肥料(含可燃物≤0.4%)",
        "",
        "ammonium nitrate fertiliser (combustible matter <= 0.4%)",
        "",
        200,
    ),  # fmt: skip
    _s(46, "硝酸钾", "", "potassium nitrate", "7757-79-1", 1000),
    _s(47, "1,3-丁二烯", "联乙烯", "1,3-butadiene", "106-99-0", 5),
    _s(48, "二甲醚", "甲醚", "dimethyl ether", "115-10-6", 50),
    _s(49, "甲烷,天然气", "甲烷;天然气", "methane, natural gas", "74-82-8;8006-14-2", 50),
    _s(50, "氯乙烯", "乙烯基氯", "vinyl chloride", "75-01-4", 50),
    _s(51, "氢", "氢气", "hydrogen", "1333-74-0", 5),
    _s(
        52,
        "液化石油气(含丙烷、丁烷及其混合物)",
        "石油气(液化的);液化石油气;丙烷;丁烷",
        "liquefied petroleum gas (propane, butane and mixtures)",
        "68476-85-7;74-98-6;106-97-8",
        50,
    ),  # fmt: skip
    _s(53, "一甲胺", "氨基甲烷;甲胺", "methylamine", "74-89-5", 5),
    _s(54, "乙炔", "电石气", "acetylene", "74-86-2", 1),
    _s(55, "乙烯", "", "ethylene", "74-85-1", 50),
    _s(
        56, "氧(压缩的或液化的)", "液氧;氧气", "oxygen (compressed or liquefied)", "7782-44-7", 200
    ),  # fmt: skip
    _s(57, "苯", "纯苯", "benzene", "71-43-2", 50),
    _s(58, "苯乙烯", "乙烯苯", "styrene", "100-42-5", 500),
    _s(59, "丙酮", "二甲基酮", "acetone", "67-64-1", 500),
    _s(60, "2-丙烯腈", "丙烯腈;乙烯基氰;氰基乙烯", "acrylonitrile", "107-13-1", 50),
    _s(61, "二硫化碳", "", "carbon disulphide", "75-15-0", 50),
    _s(62, "环己烷", "六氢化苯", "cyclohexane", "110-82-7", 500),
    _s(63, "1,2-环氧丙烷", "氧化丙烯;甲基环氧乙烷", "propylene oxide", "75-56-9", 10),
    _s(64, "甲苯", "甲基苯;苯基甲烷", "toluene", "108-88-3", 500),
    _s(65, "甲醇", "木醇;木精", "methanol", "67-56-1", 500),
    _s(
        66,
        "汽油(乙醇汽油、甲醇汽油)",
        "汽油",
        "gasoline (incl. ethanol and methanol gasoline)",
        "86290-81-5",
        200,
    ),  # fmt: skip
    _s(67, "乙醇", "酒精", "ethanol", "64-17-5", 500),
    _s(68, "乙醚", "二乙基醚", "diethyl ether", "60-29-7", 10),
    _s(69, "乙酸乙酯", "醋酸乙酯", "ethyl acetate", "141-78-6", 500),
    _s(70, "正己烷", "己烷", "n-hexane", "110-54-3", 500),
    _s(71, "过乙酸", "过醋酸;过氧乙酸;乙酰过氧化氢", "peracetic acid", "79-21-0", 10),
    _s(
        72,
        "过氧化甲基乙基酮(10%<有效氧含量≤10.7%,含A型稀释剂≥48%)",
        "",
        "methyl ethyl ketone peroxide (10% < active oxygen <= 10.7%, type A diluent >= 48%)",
        "1338-23-4",
        10,
    ),  # fmt: skip
    _s(73, "白磷", "黄磷", "white phosphorus", "12185-10-3", 50),
    _s(74, "烷基铝", "三烷基铝", "aluminium alkyls", "", 1),
    _s(75, "戊硼烷", "五硼烷", "pentaborane", "19624-22-7", 1),
    _s(76, "过氧化钾", "", "potassium peroxide", "17014-71-0", 20),
    _s(77, "过氧化钠", "双氧化钠;二氧化钠", "sodium peroxide", "1313-60-6", 20),
    _s(78, "氯酸钾", "", "potassium chlorate", "3811-04-9", 100),
    _s(79, "氯酸钠", "", "sodium chlorate", "7775-09-9", 100),
    _s(80, "发烟硝酸", "", "fuming nitric acid", "52583-42-3", 20),
    _s(
        81,
        "硝酸(发红烟的除外,含硝酸>70%)",
        "硝酸",
        "nitric acid (> 70%, not red fuming)",
        "7697-37-2",
        100,
    ),  # fmt: skip
    _s(82, "硝酸胍", "硝酸亚氨脲", "guanidine nitrate", "506-93-4", 50),
    _s(83, "碳化钙", "电石", "calcium carbide", "75-20-7", 100),
    _s(84, "钾", "金属钾", "potassium", "7440-09-7", 1),
    _s(85, "钠", "金属钠", "sodium", "7440-23-5", 10),
)


#: the hazard class (Table 2 symbol) of every Table 1 row, by row number; None: no
#: class of Table 2 fits (β 1, Table 4's "other"). Toxic gases of Table 3 take Table 3's β.
HAZARD_CLASS: dict[int, str | None] = {
    1: "J3", 2: "J1", 3: "J3", 4: "J3", 5: "J1", 6: "J1", 7: "W2", 8: "J3", 9: "J1",
    10: "J3", 11: "J3", 12: "J3", 13: "W2", 14: "J3", 15: "J3", 16: "J3", 17: "J3",
    18: "J2", 19: "J2", 20: "J3", 21: "W5.4", 22: "W5.3", 23: "J5", 24: "J5", 25: "J1",
    26: None, 27: "W5.3", 28: "J2", 29: "J2", 30: "J1",
    # explosives
    31: "W1.1", 32: "W1.1", 33: "W1.1", 34: "W1.1", 35: "W1.1", 36: "W1.1", 37: "W1.1",
    38: "W1.1", 39: "W1.2", 40: "W10", 41: "W10", 42: "W5.3", 43: "W1.1",
    # oxidising ammonium / potassium nitrate
    44: "W9.2", 45: "W9.2", 46: "W9.2",
    # flammable gases
    47: "W2", 48: "W2", 49: "W2", 50: "W2", 51: "W2", 52: "W2", 53: "W2", 54: "W2", 55: "W2",
    56: "W4",
    # flammable liquids (category 1: W5.1; category 2: W5.3; category 3: W5.4)
    57: "W5.3", 58: "W5.4", 59: "W5.3", 60: "W5.3", 61: "W5.3", 62: "W5.3", 63: "W5.1",
    64: "W5.3", 65: "W5.3", 66: "W5.3", 67: "W5.3", 68: "W5.1", 69: "W5.3", 70: "W5.3",
    # organic peroxides, pyrophorics, oxidisers, water-reactives
    71: "W7.2", 72: "W7.1", 73: "W8", 74: "W8", 75: "W8", 76: "W9.1", 77: "W9.1",
    78: "W9.1", 79: "W9.1", 80: "W9.1", 81: "W9.2", 82: "W9.2", 83: "W11", 84: "W11",
    85: "W11",
}  # fmt: skip

#: Table 1 with each row's hazard class
TABLE_1: tuple[NamedSubstance, ...] = tuple(
    NamedSubstance(r.no, r.name_zh, r.aliases_zh, r.name_en, r.cas, r.q_tonnes, HAZARD_CLASS[r.no])
    for r in _ROWS
)


@dataclass(frozen=True, slots=True)
class Category:
    """One row of Table 2 with its β from Table 4."""

    symbol: str
    hazard_zh: str
    description: str
    q_tonnes: float
    beta: float


#: Table 2 (Q) and Table 4 (β): categories for chemicals not named in Table 1.
TABLE_2: dict[str, Category] = {
    c.symbol: c
    for c in (
        Category("J1", "急性毒性", "category 1, all exposure routes, gases", 5, 4),
        Category("J2", "急性毒性", "category 1, all exposure routes, solids and liquids", 50, 1),
        Category("J3", "急性毒性", "categories 2 and 3, all exposure routes, gases", 50, 2),
        Category(
            "J4", "急性毒性", "categories 2 and 3, inhalation, liquids (bp <= 35 °C)", 50, 2
        ),  # fmt: skip
        Category(
            "J5", "急性毒性", "category 2, all routes, liquids (other than J4) and solids", 500, 1
        ),  # fmt: skip
        Category("W1.1", "爆炸物", "unstable explosives; division 1.1 explosives", 1, 2),
        Category("W1.2", "爆炸物", "division 1.2, 1.3, 1.5 and 1.6 explosives", 10, 2),
        Category("W1.3", "爆炸物", "division 1.4 explosives", 50, 2),
        Category("W2", "易燃气体", "flammable gases, categories 1 and 2", 10, 1.5),
        Category("W3", "气溶胶", "aerosols, categories 1 and 2 (net weight)", 150, 1),
        Category("W4", "氧化性气体", "oxidising gases, category 1", 50, 1),
        Category(
            "W5.1",
            "易燃液体",
            "flammable liquids: category 1; categories 2 and 3 above their boiling point",
            10,
            1.5,
        ),  # fmt: skip
        Category(
            "W5.2",
            "易燃液体",
            "flammable liquids, categories 2 and 3 under special process "
            "conditions (hazardous processes, near explosive limits, > 1.6 MPa)",
            50,
            1,
        ),
        Category("W5.3", "易燃液体", "other flammable liquids of category 2", 1000, 1),
        Category("W5.4", "易燃液体", "other flammable liquids of category 3", 5000, 1),
        Category("W6.1", "自反应物质和混合物", "self-reactive substances, types A and B", 10, 1.5),
        Category("W6.2", "自反应物质和混合物", "self-reactive substances, types C, D and E", 50, 1),
        Category("W7.1", "有机过氧化物", "organic peroxides, types A and B", 10, 1.5),
        Category("W7.2", "有机过氧化物", "organic peroxides, types C, D, E and F", 50, 1),
        Category("W8", "自燃液体和自燃固体", "pyrophoric liquids and solids, category 1", 50, 1),
        Category("W9.1", "氧化性固体和液体", "oxidising solids and liquids, category 1", 50, 1),
        Category(
            "W9.2", "氧化性固体和液体", "oxidising solids and liquids, categories 2 and 3", 200, 1
        ),  # fmt: skip
        Category("W10", "易燃固体", "flammable solids, category 1", 200, 1),
        Category(
            "W11",
            "遇水放出易燃气体的物质和混合物",
            "substances which in contact with water emit flammable gases, categories 1 and 2",
            200,
            1,
        ),  # fmt: skip
    )
}

#: Table 3: β of the named toxic gases, by CAS number.
TOXIC_GAS_BETA: dict[str, float] = {
    "630-08-0": 2,  # 一氧化碳 carbon monoxide
    "7446-09-5": 2,  # 二氧化硫 sulphur dioxide
    "7664-41-7": 2,  # 氨 ammonia
    "75-21-8": 2,  # 环氧乙烷 ethylene oxide
    "7647-01-0": 3,  # 氯化氢 hydrogen chloride
    "74-83-9": 3,  # 溴甲烷 methyl bromide
    "7782-50-5": 4,  # 氯 chlorine
    "7783-06-4": 5,  # 硫化氢 hydrogen sulphide
    "7664-39-3": 5,  # 氟化氢 hydrogen fluoride
    "10102-44-0": 10,  # 二氧化氮 nitrogen dioxide
    "74-90-8": 10,  # 氰化氢 hydrogen cyanide
    "75-44-5": 20,  # 碳酰氯 phosgene
    "7803-51-2": 20,  # 磷化氢 phosphine
    "624-83-9": 20,  # 异氰酸甲酯 methyl isocyanate
}

#: Table 5: α by the number of people outside the plant within 500 m (lower edge, α).
ALPHA_BANDS: tuple[tuple[int, float], ...] = ((100, 2.0), (50, 1.5), (30, 1.2), (1, 1.0), (0, 0.5))


def _key(text: str) -> str:
    # NFKC: full-width brackets and commas (氯化氢（无水）) read as the half-width ones
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


#: chemical formulas people write for the common Table 1 gases (lookup convenience)
FORMULAS: dict[str, int] = {
    "NH3": 1, "NO2": 3, "SO2": 4, "F2": 5, "COCl2": 6, "PH3": 9, "H2S": 10, "HCl": 11,
    "Cl2": 12, "CO": 13, "AsH3": 14, "SbH3": 15, "H2Se": 16, "CH3Br": 17, "HF": 20,
    "HCN": 25, "SO3": 26, "Br2": 28, "CH4": 49, "H2": 51, "LPG": 52, "C2H2": 54,
    "C2H4": 55, "O2": 56, "CH3OH": 65, "MIC": 30, "TNT": 35,
}  # fmt: skip

_INDEX: dict[str, NamedSubstance] = {}
for _sub in TABLE_1:
    for _name in (_sub.name_zh, _sub.name_en, *_sub.aliases_zh, *_sub.cas):
        _INDEX.setdefault(_key(_name), _sub)
for _formula, _no in FORMULAS.items():
    _INDEX.setdefault(_key(_formula), TABLE_1[_no - 1])


def find(name_or_cas: str) -> NamedSubstance | None:
    """The Table 1 row named (Chinese name, alias, English name or CAS number), or None.

    A CAS number shared by several rows (nitrocellulose, ammonium nitrate) finds
    the first, the strictest (smallest Q); name the row to be precise.
    """
    return _INDEX.get(_key(name_or_cas))


def alpha(people_within_500m: int) -> float:
    """α (Table 5) for the people outside the plant within 500 m."""
    for edge, value in ALPHA_BANDS:
        if people_within_500m >= edge:
            return value
    return ALPHA_BANDS[-1][1]


def grade_of(r: float) -> int:
    """The grade 1..4 (一级..四级) of R (Table 6)."""
    if r >= 100:
        return 1
    if r >= 50:
        return 2
    if r >= 10:
        return 3
    return 4


@dataclass(frozen=True, slots=True)
class Holding:
    """A quantity of one hazardous chemical present in the unit."""

    substance: str
    quantity_tonnes: float
    category: str | None = None  # Table 2 symbol, for chemicals not named in Table 1


@dataclass(frozen=True, slots=True)
class Line:
    """How one holding enters S and R."""

    substance: str
    quantity_tonnes: float
    threshold_tonnes: float
    beta: float
    ratio: float
    basis: str  # "table1:<no>" or "table2:<symbol>"
    beta_basis: str  # "table3", "table4:<symbol>" or "table4:other"


@dataclass(frozen=True, slots=True)
class Result:
    """Identification and grading of one unit."""

    lines: tuple[Line, ...]
    s: float
    alpha: float
    r: float | None
    is_major: bool
    grade: int | None


def named_beta(named: NamedSubstance) -> tuple[float, str]:
    """β of a Table 1 row and its basis: Table 3 when it names the gas, else Table 4 by class."""
    toxic = next((TOXIC_GAS_BETA[c] for c in named.cas if c in TOXIC_GAS_BETA), None)
    if toxic is not None:
        return toxic, "table3"
    if named.hazard_class is None:
        return 1.0, "table4:other"
    return TABLE_2[named.hazard_class].beta, f"table4:{named.hazard_class}"


def standard_q_beta(
    substance: str, cas: str | None, category: str | None
) -> tuple[float, float, str]:
    """Q, β and the basis the standard gives a substance (ValueError naming what is missing).

    A substance Table 1 names (by name, alias, formula or CAS) takes its row's Q
    and β whatever category it is given; only a substance Table 1 does not name
    takes its Table 2 category's Q and Table 4 β.
    """
    named = find(substance) or (find(cas) if cas else None)
    if named is not None:
        beta, _ = named_beta(named)
        return named.q_tonnes, beta, f"table1:{named.no}"
    if not category:
        raise ValueError(
            f"{substance!r} is not named in GB 18218 Table 1; give its Table 2 category"
        )
    cat = TABLE_2.get(category)
    if cat is None:
        raise ValueError(f"unknown GB 18218 category {category!r} (a Table 2 symbol: J1, W2, ...)")
    return cat.q_tonnes, cat.beta, f"table2:{cat.symbol}"


def line_for(holding: Holding) -> Line:
    """Q and β for one holding (ValueError when neither Table 1 nor Table 2 knows it)."""
    named = find(holding.substance)
    category = TABLE_2.get(holding.category) if holding.category else None
    if holding.category and category is None:
        raise ValueError(f"unknown GB 18218 category {holding.category!r}")
    if named is not None:
        q, basis = named.q_tonnes, f"table1:{named.no}"
        beta, beta_basis = named_beta(named)
    elif category is not None:
        q, basis = category.q_tonnes, f"table2:{category.symbol}"
        beta, beta_basis = category.beta, f"table4:{category.symbol}"
    else:
        raise ValueError(
            f"{holding.substance!r} is not named in GB 18218 Table 1; give its Table 2 category"
        )
    ratio = holding.quantity_tonnes / q
    return Line(holding.substance, holding.quantity_tonnes, q, beta, ratio, basis, beta_basis)


def evaluate(holdings: Iterable[Holding], people_within_500m: int) -> Result:
    """S, α, R and the grade of a unit (a grade only when S >= 1: a major hazard source)."""
    lines = tuple(line_for(h) for h in holdings)
    s = sum(line.ratio for line in lines)
    a = alpha(people_within_500m)
    if s < 1:
        return Result(lines, s, a, None, False, None)
    r = a * sum(line.beta * line.ratio for line in lines)
    return Result(lines, s, a, r, True, grade_of(r))
