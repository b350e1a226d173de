"""api.analysis.filters: attribute filters of analysis requests, as fixed SQL with bound values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from api.errors import BadRequest
from api.layers import Field, Layer
from api.query_params import parse_date, parse_timestamp
from api.sqlfiles import ident

#: the PostgreSQL array type a list of values of each field type is bound as
PG_ARRAY: dict[str, str] = {
    "text": "text[]",
    "int": "bigint[]",
    "float": "float8[]",
    "bool": "boolean[]",
    "date": "date[]",
    "timestamp": "timestamptz[]",
}


class Params:
    """Positional parameters of one statement: `add` binds a value and returns its `$n`."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any) -> str:
        """Bind a value; its placeholder."""
        self.values.append(value)
        return f"${len(self.values)}"


def coerce(field: Field, value: Any, where: str) -> Any:
    """A JSON value as the field's type (400 naming the field when it is not)."""
    name = f"{where}.{field.name}"
    if value is None:
        raise BadRequest(f"{name}: null is not a value to filter on")
    match field.type:
        case "text":
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise BadRequest(f"{name}: expected text, got {value!r}")
            text = str(value)
            if field.choices and text not in field.choices:
                raise BadRequest(f"{name}: {text!r} is not one of {', '.join(field.choices)}")
            return text
        case "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest(f"{name}: expected an integer, got {value!r}")
            if not -(2**63) <= value < 2**63:
                raise BadRequest(f"{name}: {value} is out of range")
            return value
        case "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(f"{name}: expected a number, got {value!r}")
            if not math.isfinite(value):
                raise BadRequest(f"{name}: expected a finite number")
            return float(value)
        case "bool":
            if not isinstance(value, bool):
                raise BadRequest(f"{name}: expected true or false, got {value!r}")
            return value
        case "date":
            if not isinstance(value, str):
                raise BadRequest(f"{name}: expected a date YYYY-MM-DD, got {value!r}")
            d: date = parse_date(name, value)
            return d
        case "timestamp":
            if not isinstance(value, str):
                raise BadRequest(f"{name}: expected an RFC 3339 date-time, got {value!r}")
            ts: datetime = parse_timestamp(name, value)
            return ts
    raise BadRequest(f"{name}: cannot filter on this field")  # pragma: no cover


def where_sql(
    layer: Layer, alias: str, where: Mapping[str, Any] | None, params: Params, label: str = "where"
) -> str:
    """`AND alias."field" = ANY($n::type[])` for each `field: value | [values]` of `where`."""
    if not where:
        return ""
    fields = layer.field_map
    out = []
    for name in sorted(where):
        field = fields.get(name)
        if field is None:
            raise BadRequest(
                f"{label}: layer {layer.name} has no field {name!r}; its fields are "
                f"{', '.join(fields)}"
            )
        raw = where[name]
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise BadRequest(f"{label}.{name}: an empty list matches nothing")
        typed = [coerce(field, v, label) for v in values]
        out.append(f" AND {alias}.{ident(name)} = ANY({params.add(typed)}::{PG_ARRAY[field.type]})")
    return "".join(out)


def class_sql(
    layer: Layer,
    alias: str,
    categories: list[str] | None,
    levels: list[str] | None,
    params: Params,
    *,
    strict: bool,
) -> str:
    """Category and level filters; `strict`: a layer without such a field is a 400, else skipped."""
    out = ""
    for label, field_name, values in (
        ("categories", layer.category_field, categories),
        ("levels", layer.level_field, levels),
    ):
        if values is None:
            continue
        if field_name is None:
            if strict:
                raise BadRequest(f"{label}: layer {layer.name} has no {label[:-1]} field")
            continue
        choices = layer.field_map[field_name].choices
        bad = sorted({v for v in values if choices and v not in choices})
        if bad:
            raise BadRequest(
                f"{label}: {', '.join(bad)} not among {layer.name}.{field_name}: "
                f"{', '.join(choices or ())}"
            )
        out += f" AND {alias}.{ident(field_name)}::text = ANY({params.add(list(values))}::text[])"
    return out
