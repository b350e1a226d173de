"""api.grading.sqlfiles: the set-based SQL, loaded once, in its two variants (all units / some)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

SQL_DIR = Path(__file__).resolve().parent / "sql"
Variant = Literal["all", "units"]

_UNITS = re.compile(r"\{units:([a-z_]+\.[a-z_]+)\}")


def _variant(text: str, variant: Variant, ids_param: int) -> str:
    """Resolve `{units:col}` markers: TRUE for all units, `col = ANY($n)` for a subset."""
    if variant == "all":
        return _UNITS.sub("TRUE", text)
    return _UNITS.sub(lambda m: f"{m.group(1)} = ANY(${ids_param}::bigint[])", text)


@cache
def raw(name: str) -> str:
    """The text of api/grading/sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@cache
def score(variant: Variant) -> str:
    """Grade units without writing: $1 params, $2 as_of[, $3 ids]."""
    return _variant(raw("score"), variant, 3)


@cache
def apply(variant: Variant) -> str:
    """Grade units and write the changed ones: $1 params, $2 as_of[, $3 ids]."""
    return _variant(raw("apply").replace("{score}", raw("score")), variant, 3)


@cache
def exposure(variant: Variant) -> str:
    """Refresh cached exposure: $1 radius, $2 stamp[, $3 ids]."""
    return _variant(raw("exposure"), variant, 3)
