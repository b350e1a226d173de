"""api.codes: the domain's enumerations (docs/grading-model.md), one place for API, import, grading,
SQL
and the front end (`frontend_codes()`, served in GET /ui/config; `sql_arrays()`, the arrays
the grading SQL ranks by)."""

from __future__ import annotations

from typing import Any

#: risk levels, least severe first (the rank order of the model and the SQL)
LEVELS: tuple[str, ...] = ("low", "general", "large", "major")
LEVEL_COLOURS: dict[str, str] = {
    "major": "red",
    "large": "orange",
    "general": "yellow",
    "low": "blue",
}
#: the four risk colours as drawn (map style, front end): major red ... low blue
COLOUR_HEX: dict[str, str] = {
    "red": "#e53935",
    "orange": "#fb8c00",
    "yellow": "#fdd835",
    "blue": "#1e88e5",
}
LEVEL_NAMES_ZH: dict[str, str] = {"major": "重大", "large": "较大", "general": "一般", "low": "低"}
#: a level as the front end labels it: (Chinese, English)
LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "major": ("重大风险", "Major"),
    "large": ("较大风险", "Large"),
    "general": ("一般风险", "General"),
    "low": ("低风险", "Low"),
}

CATEGORIES: tuple[str, ...] = (
    "gas",
    "hazardous_chemicals",
    "construction",
    "crowded_place",
    "high_rise",
    "underground_space",
    "bridge_tunnel",
    "rail_transit",
    "industrial",
    "waterlogging_point",
    "drainage",
    "power",
    "heat_supply",
    "water_supply",
    "geological_hazard",
)
CATEGORY_NAMES_ZH: dict[str, str] = {
    "gas": "燃气",
    "hazardous_chemicals": "危险化学品",
    "construction": "建筑施工",
    "crowded_place": "人员密集场所",
    "high_rise": "高层建筑",
    "underground_space": "地下空间",
    "bridge_tunnel": "桥梁隧道",
    "rail_transit": "轨道交通",
    "industrial": "工矿商贸",
    "waterlogging_point": "易涝点",
    "drainage": "排水",
    "power": "电力",
    "heat_supply": "供热",
    "water_supply": "供水",
    "geological_hazard": "地质灾害",
}

CATEGORY_NAMES_EN: dict[str, str] = {
    "gas": "Gas",
    "hazardous_chemicals": "Hazardous chemicals",
    "construction": "Construction",
    "crowded_place": "Crowded places",
    "high_rise": "High-rise",
    "underground_space": "Underground space",
    "bridge_tunnel": "Bridges and tunnels",
    "rail_transit": "Rail transit",
    "industrial": "Industry and trade",
    "waterlogging_point": "Waterlogging points",
    "drainage": "Drainage",
    "power": "Power",
    "heat_supply": "Heat supply",
    "water_supply": "Water supply",
    "geological_hazard": "Geological hazards",
}

CONTROL_LEVELS: tuple[str, ...] = ("grade1", "grade2", "compliant", "noncompliant", "suspended")

MONITORING_DOMAINS: tuple[str, ...] = ("lifeline", "public_safety", "production_safety")

HIDDEN_HAZARD_SEVERITIES: tuple[str, ...] = ("general", "large", "major")
HIDDEN_HAZARD_STATUSES: tuple[str, ...] = (
    "reported",
    "assigned",
    "rectifying",
    "verified",
    "closed",
)
ACCIDENT_GRADES: tuple[str, ...] = ("general", "large", "major", "especially_major")

WARNING_TYPES: tuple[str, ...] = (
    "rainstorm",
    "heat",
    "cold_wave",
    "snowstorm",
    "road_icing",
    "gale",
    "thunder_lightning",
    "hail",
    "fog",
    "haze",
    "dust_storm",
    "drought",
)
WARNING_COLOURS: tuple[str, ...] = ("blue", "yellow", "orange", "red")

LIFELINE_KINDS: tuple[str, ...] = ("gas", "water", "drainage", "heat", "power")
SHELTER_TYPES: tuple[str, ...] = ("emergency", "fixed", "central")
DEPOT_LEVELS: tuple[str, ...] = ("city", "district", "street")
TEAM_KINDS: tuple[str, ...] = ("professional", "social")
BROADCAST_KINDS: tuple[str, ...] = ("loudspeaker", "led_screen", "radio")
BROADCAST_STATUSES: tuple[str, ...] = ("online", "offline")
VULNERABLE_KINDS: tuple[str, ...] = ("school", "kindergarten", "hospital", "nursing_home")


def frontend_codes() -> dict[str, Any]:
    """What the front end shows for levels and categories (it restates none of it)."""
    return {
        "levels": list(reversed(LEVELS)),  # most severe first, as legends list them
        "level_hex": {lv: COLOUR_HEX[LEVEL_COLOURS[lv]] for lv in reversed(LEVELS)},
        "level_names": {lv: list(LEVEL_LABELS[lv]) for lv in reversed(LEVELS)},
        "categories": {c: [CATEGORY_NAMES_ZH[c], CATEGORY_NAMES_EN[c]] for c in CATEGORIES},
    }


def _array(values: tuple[str, ...]) -> str:
    from api.sqlfiles import literal

    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]"


def sql_arrays() -> dict[str, str]:
    """The code lists the grading SQL ranks by, as SQL array literals for its placeholders."""
    return {
        "levels": _array(LEVELS),
        "control_levels": _array(CONTROL_LEVELS),
        "warning_colours": _array(WARNING_COLOURS),
    }
