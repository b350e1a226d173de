"""api.codes: the domain's enumerations (GRADING.md), one place for API, import and grading."""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("low", "general", "large", "major")
LEVEL_COLOURS: dict[str, str] = {
    "major": "red",
    "large": "orange",
    "general": "yellow",
    "low": "blue",
}
LEVEL_NAMES_ZH: dict[str, str] = {"major": "重大", "large": "较大", "general": "一般", "low": "低"}

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
