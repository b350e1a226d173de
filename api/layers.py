"""api.layers: the registry of layers, the allow-list behind every query, import and tile.

A table or column name reaches SQL only if it is in this registry; request
parameters are checked against it and never formatted into SQL themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from api import codes

FieldType = Literal["text", "int", "float", "bool", "date", "timestamp"]
GeometryKind = Literal["point", "line", "area", "point_or_area"]

#: PostGIS geometry types each kind accepts (as GeometryType() spells them).
GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "point": ("POINT",),
    "line": ("MULTILINESTRING",),
    "area": ("MULTIPOLYGON",),
    "point_or_area": ("POINT", "MULTIPOLYGON"),
}


@dataclass(frozen=True, slots=True)
class Field:
    """One typed attribute column of a layer."""

    name: str
    type: FieldType
    description: str = ""
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    #: False for columns written by the service itself (grading, GB 18218 results).
    importable: bool = True


@dataclass(frozen=True, slots=True)
class Layer:
    """A spatial table: its geometry kind, its typed fields and its titles."""

    name: str
    title: str
    title_zh: str
    geometry: GeometryKind
    fields: tuple[Field, ...]
    description: str = ""
    geometry_nullable: bool = False
    #: the field the map's "category" filter applies to (None: no such filter)
    category_field: str | None = None
    #: the field the map's "level" filter applies to
    level_field: str | None = None
    #: the field OGC `datetime` and "since" filters apply to
    time_field: str = "updated_at"
    extra: dict[str, str] = field(default_factory=dict)
    #: False for layers only the service writes (alarms come from readings, not files)
    importable: bool = True

    @property
    def field_map(self) -> dict[str, Field]:
        """Fields by name, spine included."""
        return {f.name: f for f in self.all_fields}

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """The spine (code, name, district, source, timestamps) then the layer's own fields."""
        spine = SPINE_NO_DISTRICT if self.name == "districts" else SPINE
        return spine[:3] + self.fields + spine[3:]

    @property
    def importable_fields(self) -> tuple[Field, ...]:
        """Fields an import may set (not the service-computed ones)."""
        return tuple(f for f in self.all_fields if f.importable)

    @property
    def geometry_types(self) -> tuple[str, ...]:
        """The PostGIS geometry types this layer stores."""
        return GEOMETRY_TYPES[self.geometry]


SPINE: tuple[Field, ...] = (
    Field("code", "text", "stable external identifier, unique in the layer", required=True),
    Field("name", "text", "name", required=True),
    Field("district", "text", "adcode of the district (derived from the geometry when absent)"),
    Field(
        "source",
        "text",
        "where the record came from (demo-synthetic, import:<file>, ...)",
        importable=False,
    ),
    Field("created_at", "timestamp", "when the record was created", importable=False),
    Field("updated_at", "timestamp", "when the record last changed", importable=False),
)
SPINE_NO_DISTRICT = tuple(f for f in SPINE if f.name != "district")


def _f(name: str, type_: FieldType, description: str = "", **kw: object) -> Field:
    return Field(name, type_, description, **kw)  # type: ignore[arg-type]


LEVEL = codes.LEVELS

LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer(
            "districts",
            "Districts",
            "行政区",
            "area",
            (
                _f("adcode", "text", "six-digit administrative code", required=True),
                _f("population", "int", "resident population (2020 census)", minimum=0),
                _f("area_km2", "float", "area in km²", minimum=0),
            ),
            description="Districts and counties of the city",
        ),
        Layer(
            "risk_units",
            "Risk units",
            "安全风险单位",
            "point_or_area",
            (
                _f("category", "text", "risk category", required=True, choices=codes.CATEGORIES),
                _f("registered_level", "text", "registered (备案) level", choices=LEVEL),
                _f(
                    "control_level",
                    "text",
                    "standardisation grade / control level",
                    choices=codes.CONTROL_LEVELS,
                ),
                _f(
                    "current_level",
                    "text",
                    "dynamic level written by grading",
                    choices=LEVEL,
                    importable=False,
                ),
                _f("current_r", "float", "dynamic risk score R", importable=False),
                _f(
                    "level_changed_at", "timestamp", "when the level last changed", importable=False
                ),
                _f("department", "text", "responsible department"),
                _f("contact", "text", "contact person and phone"),
                _f("address", "text", "address"),
                _f(
                    "town",
                    "text",
                    "town or street (镇街) it lies in, set by location",
                    importable=False,
                ),
            ),
            description="Safety risk units graded in four colours",
            category_field="category",
            level_field="current_level",
        ),
        Layer(
            "hazard_sources",
            "Major hazard sources",
            "重大危险源",
            "point_or_area",
            (
                _f("risk_unit_id", "int", "risk unit (internal id)", importable=False),
                _f("enterprise", "text", "operating enterprise"),
                _f("people_within_500m", "int", "people outside the plant within 500 m", minimum=0),
                _f("s_value", "float", "S = Σ q/Q", importable=False),
                _f("alpha", "float", "α correction for exposed people", importable=False),
                _f("r_value", "float", "GB 18218 R", importable=False),
                _f("gb_grade", "int", "GB 18218 grade 1..4 (一级..四级)", importable=False),
            ),
            description="Major hazard sources identified and graded by GB 18218-2018",
            level_field="gb_grade",
        ),
        Layer(
            "monitoring_points",
            "Monitoring points",
            "监测点",
            "point",
            (
                _f("risk_unit_id", "int", "risk unit (internal id)", importable=False),
                _f("kind", "text", "what is measured", required=True),
                _f(
                    "domain",
                    "text",
                    "monitoring domain",
                    required=True,
                    choices=codes.MONITORING_DOMAINS,
                ),
                _f("unit", "text", "unit of the readings"),
                _f(
                    "direction",
                    "text",
                    "which side of the thresholds is dangerous",
                    choices=("above", "below"),
                ),
                _f("threshold_l4", "float", "level-4 (blue) alarm threshold"),
                _f("threshold_l3", "float", "level-3 (yellow) alarm threshold"),
                _f("threshold_l2", "float", "level-2 (orange) alarm threshold"),
                _f("threshold_l1", "float", "level-1 (red) alarm threshold"),
                _f("expected_interval_s", "int", "expected seconds between readings", minimum=1),
            ),
            description="Lifeline, public-safety and production-safety sensors (1+N)",
            category_field="kind",
        ),
        Layer(
            "alarms",
            "Alarms",
            "报警",
            "point",
            (
                _f("point_id", "int", "monitoring point (internal id)", importable=False),
                _f("risk_unit_id", "int", "risk unit (internal id)", importable=False),
                _f("episode", "text", "alarm episode (escalations share it)", importable=False),
                _f("level", "int", "alarm level 1..4 (1 highest)", importable=False),
                _f("value", "float", "reading that set the level", importable=False),
                _f("started_at", "timestamp", "start of this level", importable=False),
                _f("ended_at", "timestamp", "end of this level", importable=False),
                _f("end_reason", "text", "why it ended", importable=False),
                _f("false_alarm_at", "timestamp", "confirmed false alarm at", importable=False),
            ),
            description="Monitoring alarms, one row per level period",
            level_field="level",
            time_field="started_at",
            importable=False,
        ),
        Layer(
            "hidden_hazards",
            "Hidden hazards",
            "隐患",
            "point",
            (
                _f("risk_unit_id", "int", "risk unit (internal id)", importable=False),
                _f(
                    "severity",
                    "text",
                    "severity",
                    required=True,
                    choices=codes.HIDDEN_HAZARD_SEVERITIES,
                ),
                _f("status", "text", "rectification status", choices=codes.HIDDEN_HAZARD_STATUSES),
                _f("description", "text", "what was found"),
                _f("reported_at", "timestamp", "when it was reported", required=True),
                _f("due_date", "date", "rectification due date"),
                _f("assignee", "text", "who rectifies it"),
                _f("assigned_at", "timestamp", "assigned at"),
                _f("rectified_at", "timestamp", "rectified at"),
                _f("verified_at", "timestamp", "verified at"),
                _f("closed_at", "timestamp", "closed at"),
                _f(
                    "town",
                    "text",
                    "town or street (镇街) it lies in, set by location",
                    importable=False,
                ),
                # the loop's steps (set by the hidden-hazard routes, not by a file)
                _f("assigned_org", "text", "organisation it is assigned to", importable=False),
                _f("reported_by", "text", "who reported it", importable=False),
                _f("reported_org", "text", "organisation of the reporter", importable=False),
                _f("rectified_by", "text", "who rectified it", importable=False),
                _f("rectified_org", "text", "organisation of the rectifier", importable=False),
                _f("verified_by", "text", "who verified it", importable=False),
                _f("verified_org", "text", "organisation of the verifier", importable=False),
            ),
            description="Hidden hazards found by inspection, with their rectification",
            category_field="severity",
            time_field="reported_at",
        ),
        Layer(
            "accidents",
            "Accidents",
            "事故",
            "point",
            (
                _f("risk_unit_id", "int", "risk unit (internal id)", importable=False),
                _f(
                    "grade",
                    "text",
                    "accident grade (Decree 493)",
                    required=True,
                    choices=codes.ACCIDENT_GRADES,
                ),
                _f("occurred_at", "timestamp", "when it happened", required=True),
                _f("deaths", "int", "deaths", minimum=0),
                _f("injuries", "int", "injuries", minimum=0),
                _f("description", "text", "description"),
            ),
            description="Accidents, by grade",
            category_field="grade",
            time_field="occurred_at",
        ),
        Layer(
            "weather_warnings",
            "Weather warnings",
            "气象预警",
            "area",
            (
                _f("type", "text", "warning type", required=True, choices=codes.WARNING_TYPES),
                _f(
                    "colour", "text", "warning colour", required=True, choices=codes.WARNING_COLOURS
                ),
                _f("valid_from", "timestamp", "valid from", required=True),
                _f("valid_to", "timestamp", "valid to", required=True),
                _f("cancelled_at", "timestamp", "cancelled (ended early) at"),
                _f("issuer", "text", "issuing office"),
            ),
            description="Weather warning polygons with their validity",
            category_field="type",
            level_field="colour",
            time_field="valid_from",
        ),
        Layer(
            "special_periods",
            "Special periods",
            "特殊时期",
            "area",
            (
                _f("starts_at", "timestamp", "start", required=True),
                _f("ends_at", "timestamp", "end", required=True),
                _f("cancelled_at", "timestamp", "cancelled at"),
            ),
            description="Holidays and major events; no geometry means citywide",
            geometry_nullable=True,
            time_field="starts_at",
        ),
        Layer(
            "lifelines",
            "Lifelines",
            "生命线管网",
            "line",
            (
                _f("kind", "text", "network", required=True, choices=codes.LIFELINE_KINDS),
                _f("material", "text", "pipe or cable material"),
                _f("diameter_mm", "float", "diameter in mm", minimum=0),
                _f("pressure_mpa", "float", "operating pressure in MPa", minimum=0),
                _f("voltage_kv", "float", "voltage in kV (power)", minimum=0),
                _f("laid_year", "int", "year laid", minimum=1900),
            ),
            description="Gas, water, drainage, heat and power mains",
            category_field="kind",
        ),
        Layer(
            "shelters",
            "Emergency shelters",
            "应急避难场所",
            "point_or_area",
            (
                _f("type", "text", "shelter type", required=True, choices=codes.SHELTER_TYPES),
                _f("capacity", "int", "capacity (people)", required=True, minimum=0),
                _f("area_m2", "float", "usable area in m²", minimum=0),
                _f("occupied", "int", "people sheltered now", minimum=0),
                _f("address", "text", "address"),
                _f(
                    "town",
                    "text",
                    "town or street (镇街) it lies in, set by location",
                    importable=False,
                ),
            ),
            description="Emergency shelters with their capacity",
            category_field="type",
        ),
        Layer(
            "reserve_depots",
            "Reserve depots",
            "应急物资储备点",
            "point",
            (
                _f("level", "text", "depot level", required=True, choices=codes.DEPOT_LEVELS),
                _f("manager", "text", "managing body"),
                _f("contact", "text", "contact"),
                _f(
                    "org",
                    "text",
                    "area (zone, else district) managing it, set by location",
                    importable=False,
                ),
            ),
            description="Emergency reserve depots; their stock is in depot_stock",
            category_field="level",
        ),
        Layer(
            "capacity_enterprises",
            "Capacity-guarantee enterprises",
            "产能保障单位",
            "point",
            (
                _f("industry", "text", "industry"),
                _f("contact", "text", "contact"),
            ),
            description="Enterprises that can supply emergency goods; see enterprise_capacity",
        ),
        Layer(
            "rescue_teams",
            "Rescue teams",
            "救援队伍",
            "point",
            (
                _f(
                    "kind",
                    "text",
                    "professional or social force",
                    required=True,
                    choices=codes.TEAM_KINDS,
                ),
                _f("speciality", "text", "speciality", required=True),
                _f("headcount", "int", "people", required=True, minimum=0),
                _f("equipment", "text", "main equipment"),
                _f("contact", "text", "contact"),
            ),
            description="Professional rescue teams and social forces, at their base",
            category_field="speciality",
        ),
        Layer(
            "broadcasts",
            "Emergency broadcast terminals",
            "应急广播终端",
            "point",
            (
                _f("kind", "text", "terminal kind", choices=codes.BROADCAST_KINDS),
                _f("status", "text", "online or offline", choices=codes.BROADCAST_STATUSES),
            ),
            description="Emergency broadcast terminals",
            category_field="kind",
        ),
        Layer(
            "vulnerable_sites",
            "Vulnerable sites",
            "脆弱性目标",
            "point",
            (
                _f("kind", "text", "kind of site", required=True, choices=codes.VULNERABLE_KINDS),
                _f("occupants", "int", "usual occupants", minimum=0),
            ),
            description="Schools, kindergartens, hospitals and nursing homes",
            category_field="kind",
        ),
        Layer(
            "population_cells",
            "Population grid",
            "人口网格",
            "area",
            (_f("population", "int", "residents in the cell", required=True, minimum=0),),
            description="Population grid cells; they sum to the census total",
        ),
    )
}


def get_layer(name: str) -> Layer | None:
    """The layer of that name, or None: the only way a table name reaches SQL."""
    return LAYERS.get(name)


@dataclass(frozen=True, slots=True)
class ChildTable:
    """A non-spatial table whose rows belong to one feature of a parent layer.

    Files name the parent by its `code` (column `parent_code`); the importer
    resolves it to the parent's id (column `parent_id`). A row is identified by
    the parent and `key`, so re-importing a file updates rather than duplicates.
    """

    name: str
    title: str
    title_zh: str
    parent: str
    parent_id: str
    parent_code: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    description: str = ""

    @property
    def field_map(self) -> dict[str, Field]:
        """Fields by name (the parent code included)."""
        return {f.name: f for f in self.all_fields}

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """The parent's code, then the table's own fields."""
        parent = Field(self.parent_code, "text", f"code of the {self.parent} row", required=True)
        return (parent, *self.fields)


CHILD_TABLES: dict[str, ChildTable] = {
    table.name: table
    for table in (
        ChildTable(
            "depot_stock",
            "Depot stock",
            "储备物资",
            "reserve_depots",
            "depot_id",
            "depot_code",
            ("item_type",),
            (
                _f("item_type", "text", "kind of item", required=True),
                _f("quantity", "int", "items held", required=True, minimum=0),
                _f("unit", "text", "unit of the quantity"),
            ),
            description="What each emergency reserve depot holds",
        ),
        ChildTable(
            "hazard_substances",
            "Hazard substances",
            "危险物质",
            "hazard_sources",
            "hazard_source_id",
            "hazard_source_code",
            ("substance",),
            (
                _f("substance", "text", "substance name", required=True),
                _f("cas", "text", "CAS number"),
                _f(
                    "category",
                    "text",
                    "GB 18218 Table 2 category (J1..J5, W1.1..W11); required when Table 1 "
                    "does not name the substance",
                ),
                _f("q_tonnes", "float", "quantity present (t)", required=True, minimum=0),
                _f(
                    "threshold_tonnes",
                    "float",
                    "GB 18218 threshold Q (t); from the standard (a file may leave it empty, "
                    "a different value is refused)",
                ),
                _f(
                    "beta",
                    "float",
                    "GB 18218 correction β; from the standard (a file may leave it empty, "
                    "a different value is refused)",
                ),
            ),
            description="Substances of a major hazard source (GB 18218 q; Q and β from the "
            "standard: Table 1 for named substances, else the Table 2 category)",
        ),
        ChildTable(
            "enterprise_capacity",
            "Enterprise capacity",
            "产能",
            "capacity_enterprises",
            "enterprise_id",
            "enterprise_code",
            ("item_type",),
            (
                _f("item_type", "text", "kind of item", required=True),
                _f("quantity", "int", "items it can supply", required=True, minimum=0),
                _f("unit", "text", "unit of the quantity"),
            ),
            description="What each capacity-guarantee enterprise can supply",
        ),
    )
}

#: id columns that files give as the referenced feature's code: column -> (file column, layer)
CODE_LINKS: dict[str, tuple[str, str]] = {"risk_unit_id": ("risk_unit_code", "risk_units")}


def get_child_table(name: str) -> ChildTable | None:
    """The child table of that name, or None (the allow-list for non-spatial imports)."""
    return CHILD_TABLES.get(name)


#: layers whose records are events: they come in through their API or `onemap events import`,
#: which validate like the API, write the hidden-hazard step log, never overwrite a record and
#: regrade the units touched; the generic file import (upsert by code) refuses them.
EVENT_LAYERS: dict[str, str] = {
    "hidden_hazards": "POST /hidden-hazards",
    "weather_warnings": "POST /weather-warnings",
    "special_periods": "POST /special-periods",
    "accidents": "POST /accidents",
}


def event_layer_refusal(name: str) -> str | None:
    """Why the generic import does not take this layer (None: it does)."""
    route = EVENT_LAYERS.get(name)
    if route is None:
        return None
    return (
        f"{name} are events: load them with `onemap events import FILE --kind {name}` "
        f"(a JSON array or NDJSON of {route} bodies) or send them to {route}; "
        "the generic import would overwrite records by code and skip the regrade"
    )


def import_target(name: str) -> Layer | ChildTable | None:
    """What `onemap import --layer NAME` writes to: an importable layer or a child table."""
    layer = LAYERS.get(name)
    if layer is not None:
        return layer if layer.importable else None
    return CHILD_TABLES.get(name)
