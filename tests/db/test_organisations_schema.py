"""Organisations (migration 0015): the kinds, the boundary rule and a category's
department, as PostgreSQL enforces them."""

from __future__ import annotations

import asyncpg
import pytest

SQUARE = "ST_Multi(ST_MakeEnvelope(108.9, 34.2, 109.0, 34.3, 4326))"


async def test_kinds_boundaries_and_category_departments(db_conn: asyncpg.Connection) -> None:
    """A department has no boundary, an area has one; a category maps to a department only."""
    await db_conn.execute(
        "INSERT INTO organisations (code, name, kind) VALUES ('YJJ', '应急管理局', 'department')"
    )
    await db_conn.execute(
        f"INSERT INTO organisations (code, name, kind, geom) "
        f"VALUES ('610113', '雁塔区', 'district', {SQUARE})"
    )
    await db_conn.execute(
        f"INSERT INTO organisations (code, name, kind, parent, geom, synthetic) "
        f"VALUES ('610113001', '小寨路街道', 'town', '610113', {SQUARE}, true)"
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await db_conn.execute(
            "INSERT INTO organisations (code, name, kind) VALUES ('610104', '莲湖区', 'district')"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await db_conn.execute(
            f"INSERT INTO organisations (code, name, kind, geom) "
            f"VALUES ('ZJJ', '住建局', 'department', {SQUARE})"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await db_conn.execute(
            "INSERT INTO organisations (code, name, kind) VALUES ('bad code', 'x', 'department')"
        )
    await db_conn.execute(
        "INSERT INTO category_departments (category, department) "
        "VALUES ('hazardous_chemicals', 'YJJ')"
    )
    with pytest.raises(asyncpg.CheckViolationError, match="not a department"):
        await db_conn.execute(
            "INSERT INTO category_departments (category, department) VALUES ('gas', '610113')"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await db_conn.execute(
            "INSERT INTO category_departments (category, department) VALUES ('volcano', 'YJJ')"
        )
    rows = await db_conn.fetch(
        "SELECT o.code, o.kind, p.name AS parent FROM organisations o "
        "LEFT JOIN organisations p ON p.code = o.parent ORDER BY o.code"
    )
    assert [(r["code"], r["kind"], r["parent"]) for r in rows] == [
        ("610113", "district", None),
        ("610113001", "town", "雁塔区"),
        ("YJJ", "department", None),
    ]
