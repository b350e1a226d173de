"""api.editing.service: create, merge-patch, retire and restore one feature; its versions.

Validation is the importer's: an edited feature is a one-feature GeoJSON
collection loaded by `api.importer.core.import_features`, the path every file
row takes (types, enumerations, CRS, geometry repair, district by location).
Versions are kept by the feature_history trigger (migration 0018); the ETag of a
feature is its version there. Each write runs in one transaction: the actor and
organisation set (api.editing.scope), the row locked, If-Match checked, the
write made as the app role for a scoped principal, the audit line written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from api import audit, sqlfiles
from api.auth.principal import Principal
from api.editing import scope
from api.errors import BadRequest, Conflict, NotFound, PreconditionFailed, PreconditionRequired
from api.grading import engine, store
from api.grading.service import utcnow
from api.importer.catalog import CatalogCache
from api.importer.core import import_features
from api.importer.result import ImportResult
from api.layers import CODE_LINKS, LAYERS, Layer
from api.risk_events.common import regrade_summary
from api.settings import Settings

#: layers edited in place (their rows keep every version; RLS scopes their writes)
EDITABLE: tuple[str, ...] = (
    "risk_units", "hazard_sources", "monitoring_points", "lifelines", "shelters",
    "reserve_depots", "capacity_enterprises", "rescue_teams", "broadcasts", "vulnerable_sites",
)  # fmt: skip
#: radius around an edited vulnerable site within which units are regraded (GB 18218 α, m)
EXPOSURE_RADIUS_M = 500.0
MAX_HISTORY = 1000


@dataclass(slots=True)
class Current:
    """A feature as it stands: the GeoJSON Feature, its version, its risk unit's id."""

    id: int
    feature: dict[str, Any]
    version: int
    risk_unit_id: int | None


def editable_layer(name: str) -> Layer:
    """The layer if it is edited in place; 404 naming the editable ones otherwise."""
    layer = LAYERS.get(name)
    if layer is None or name not in EDITABLE:
        raise NotFound(f"no editable layer {name!r}; editable: {', '.join(EDITABLE)}")
    return layer


def etag(version: int) -> str:
    """The strong ETag of a feature version."""
    return f'"{version}"'


def _category_expr(layer: Layer) -> str:
    if layer.name == "risk_units":
        return "t.category"
    if "risk_unit_id" in layer.field_map:
        return "onemap_unit_category(t.risk_unit_id)"
    return "NULL::text"


def _current_sql(layer: Layer) -> str:
    linked = "risk_unit_id" in layer.field_map
    return sqlfiles.render(
        "editing/sql/current.sql",
        table=sqlfiles.ident(layer.name),
        layer=sqlfiles.literal(layer.name),
        unit_code=(
            "(SELECT u.code FROM risk_units u WHERE u.id = t.risk_unit_id)"
            if linked
            else "NULL::text"
        ),
        unit_id="t.id" if layer.name == "risk_units" else "t.risk_unit_id" if linked else "NULL",
    )


async def current(
    conn: asyncpg.Connection, layer: Layer, code: str, *, lock: bool = False
) -> Current | None:
    """The feature with this code now (locked FOR UPDATE with `lock`); None when there is none."""
    sql = _current_sql(layer) + (" FOR UPDATE OF t" if lock else "")
    row = await conn.fetchrow(sql, code)
    if row is None:
        return None
    props = {k: v for k, v in row["props"].items() if k != "id"}
    if row["risk_unit_code"] is not None:
        props["risk_unit_code"] = row["risk_unit_code"]
    feature = {"type": "Feature", "id": code, "properties": props, "geometry": row["geometry"]}
    return Current(row["id"], feature, row["version"], row["risk_unit_id"])


async def writable(conn: asyncpg.Connection, principal: Principal, layer: Layer, code: str) -> bool:
    """Whether the principal's scope covers the stored feature (the route's own check).

    For a scoped principal the rest of the transaction runs as the app role with its
    organisation set (`scope.drop_privileges`), as the write that follows the check does:
    one round trip for both."""
    if principal.org is None:
        return True
    await scope.drop_privileges(conn, principal)
    sql = sqlfiles.render(
        "editing/sql/may_write.sql",
        table=sqlfiles.ident(layer.name),
        category=_category_expr(layer),
    )
    return bool(await conn.fetchval(sql, code))


async def as_of(
    conn: asyncpg.Connection, layer: Layer, code: str, when: datetime
) -> tuple[dict[str, Any], int]:
    """The feature as it stood at `when` and that version (404 before it existed or retired)."""
    row = await conn.fetchrow(sqlfiles.load("editing/sql/as_of.sql"), layer.name, code, when)
    if row is None:
        raise NotFound(f"{layer.name} {code!r} did not exist at {when.isoformat()}")
    if row["op"] == "retire":
        raise NotFound(f"{layer.name} {code!r} was retired at {row['at'].isoformat()}")
    return _from_history(code, row["data"]), row["version"]


def _from_history(code: str, data: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in data.items() if k != "geom"}
    return {"type": "Feature", "id": code, "properties": props, "geometry": data.get("geom")}


async def history(conn: asyncpg.Connection, layer: Layer, code: str) -> list[dict[str, Any]]:
    """Every version of the feature, newest first (404 when it never existed)."""
    rows = await conn.fetch(sqlfiles.load("editing/sql/history.sql"), layer.name, code, MAX_HISTORY)
    if not rows:
        raise NotFound(f"no {layer.name} feature {code!r} has any history")
    return [
        {
            "version": r["version"],
            "at": r["at"].isoformat(),
            "actor": r["actor"],
            "actor_kind": r["actor_kind"],
            "via": r["via"],
            "op": r["op"],
            "diff": _diff(r),
        }  # fmt: skip
        for r in rows
    ]


def _diff(row: asyncpg.Record) -> dict[str, Any]:
    """A version's diff: {field: [before, after]}; a creation's is every field it was given."""
    if row["op"] == "create":
        return {k: [None, v] for k, v in row["data"].items() if v is not None}
    if row["op"] == "retire":
        return {k: [v, None] for k, v in row["data"].items() if v is not None}
    return dict(row["diff"])


def check_if_match(if_match: str | None, cur: Current) -> None:
    """428 without If-Match; 412 when it names another version (the current one in the body)."""
    if if_match is None:
        raise PreconditionRequired(
            f"send If-Match with the feature's ETag (GET it first; it is {etag(cur.version)})",
            current_version=cur.version,
        )
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags or etag(cur.version) in tags:
        return
    raise PreconditionFailed(
        f"the feature changed since you read it: it is now version {cur.version}",
        current_version=cur.version,
        current=cur.feature,
        headers={"ETag": etag(cur.version)},
    )


def _editable_names(layer: Layer) -> set[str]:
    names = {f.name for f in layer.importable_fields}
    for id_col, (code_col, _target) in CODE_LINKS.items():
        if id_col in layer.field_map:
            names.add(code_col)
    return names


def check_properties(layer: Layer, props: dict[str, Any]) -> None:
    """400 for a property the layer does not have or an edit may not set."""
    allowed = _editable_names(layer)
    unknown = sorted(set(props) - allowed)
    if unknown:
        raise BadRequest(
            f"{layer.name} has no editable field(s) {', '.join(unknown)}; "
            f"editable: {', '.join(sorted(allowed))}",
            errors=[{"field": f, "reason": "not an editable field"} for f in unknown],
        )


def _as_file_feature(layer: Layer, feature: dict[str, Any]) -> dict[str, Any]:
    """The feature with only the fields a file row may carry."""
    allowed = _editable_names(layer)
    props = {k: v for k, v in feature["properties"].items() if k in allowed}
    return {"type": "Feature", "properties": props, "geometry": feature["geometry"]}


async def _load(
    conn: asyncpg.Connection, layer: Layer, feature: dict[str, Any], settings: Settings,
    crs: str | None, source: str, catalog: CatalogCache | None,
) -> ImportResult:  # fmt: skip
    """The importer's path for one feature (a one-feature GeoJSON collection, no file)."""
    doc = {"type": "FeatureCollection", "features": [_as_file_feature(layer, feature)]}
    return await import_features(conn, doc, layer.name, settings=settings, crs=crs, source=source,
                                 catalog=catalog)  # fmt: skip


async def _scoped_load(
    conn: asyncpg.Connection, principal: Principal, layer: Layer, feature: dict[str, Any],
    settings: Settings, crs: str | None, source: str, what: str, catalog: CatalogCache | None,
    dropped: bool = False,
) -> ImportResult:  # fmt: skip
    """Load as the app role for a scoped principal (`dropped`: `writable` switched already);
    an RLS refusal becomes the scope's 403."""
    if not dropped:
        await scope.drop_privileges(conn, principal)
    try:
        async with conn.transaction():
            result = await _load(conn, layer, feature, settings, crs, source, catalog)
    except asyncpg.InsufficientPrivilegeError as exc:
        if not scope.is_rls_refusal(exc):
            raise
        raise await scope.forbidden(conn, principal, what) from None
    await scope.city_wide(conn)
    return result


async def _touched_units(
    conn: asyncpg.Connection, layer: Layer, before: Current | None, after: Current | None
) -> set[int]:
    """The risk units whose grade an edit may move."""
    units = {c.risk_unit_id for c in (before, after) if c is not None and c.risk_unit_id}
    if layer.name == "vulnerable_sites":
        geoms = [orjson.dumps(c.feature["geometry"]).decode() for c in (before, after) if c]
        rows = await conn.fetch(
            sqlfiles.load("editing/sql/touched_units.sql"),
            geoms[0], EXPOSURE_RADIUS_M, geoms[1] if len(geoms) > 1 else None,
        )  # fmt: skip
        units |= {r["id"] for r in rows}
    return {u for u in units if u is not None}


@dataclass(slots=True)
class Written:
    """What a write did: the feature now (None when retired), its version, the regrade's summary."""

    feature: dict[str, Any] | None
    version: int
    regrade: dict[str, Any] | None
    created: bool = False


async def _regrade(conn: asyncpg.Connection, principal: Principal, units: set[int]) -> Any:
    """Regrade the touched units in the edit's own transaction (city-wide, as grading runs,
    its versions marked `via` grading by the engine): the edit, its new grade and the tile
    version commit together."""
    if not units:
        return None
    params = await store.active_params(conn)
    result = await engine.regrade(conn, params, utcnow(), sorted(units), trigger="edit",
                                  actor=principal.name)  # fmt: skip
    return regrade_summary(result, units)


async def create(
    conn: asyncpg.Connection, principal: Principal, layer: Layer, feature: dict[str, Any],
    settings: Settings, crs: str | None = None, catalog: CatalogCache | None = None,
) -> Written:  # fmt: skip
    """Create a feature (its code must be new); 409 when the code is taken."""
    props = feature.get("properties") or {}
    check_properties(layer, props)
    code = props.get("code")
    if not isinstance(code, str) or not code.strip():
        raise BadRequest("properties.code is required: the feature's stable identifier")
    async with conn.transaction():
        await scope.begin(conn, principal, "edit")
        if await current(conn, layer, code) is not None:
            raise Conflict(f"{layer.name} {code!r} exists: PATCH it (with If-Match) instead")
        last = await conn.fetchrow(sqlfiles.load("editing/sql/last_version.sql"), layer.name, code)
        if last is not None and last["op"] == "retire":  # its history is another feature's
            raise Conflict(
                f"{layer.name} {code!r} was retired at {last['at'].isoformat()} (version "
                f"{last['version']}): restore it (POST .../{code}/restore, admin) or choose "
                "another code",
                retired_version=last["version"],
            )
        await _scoped_load(conn, principal, layer, feature, settings, crs,
                           f"edit:{principal.name}", f"a {layer.name} feature there",
                           catalog)  # fmt: skip
        made = await current(conn, layer, code.strip())
        assert made is not None
        await audit.record(conn, principal, "features.create", layer.name, [made.feature["id"]])
        summary = await _regrade(conn, principal, await _touched_units(conn, layer, None, made))
        after = await current(conn, layer, code.strip()) if summary else made
        assert after is not None
    return Written(after.feature, after.version, summary, created=True)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


async def patch(
    conn: asyncpg.Connection, principal: Principal, layer: Layer, code: str,
    body: dict[str, Any], if_match: str | None, settings: Settings, crs: str | None = None,
    catalog: CatalogCache | None = None,
) -> Written:  # fmt: skip
    """Merge-patch a feature's properties and/or replace its geometry (If-Match required)."""
    unknown = sorted(set(body) - {"properties", "geometry", "type", "id"})
    if unknown:
        raise BadRequest(f"a patch has 'properties' and/or 'geometry'; not {', '.join(unknown)}")
    props_patch = body.get("properties") or {}
    if not isinstance(props_patch, dict):
        raise BadRequest("properties must be an object (a JSON Merge Patch)")
    check_properties(layer, props_patch)
    if "code" in props_patch and props_patch["code"] != code:
        raise BadRequest("the code is the feature's identity: it cannot be patched")
    if "geometry" in body and not isinstance(body["geometry"], dict):
        raise BadRequest("geometry must be a GeoJSON geometry object (it cannot be removed)")
    async with conn.transaction():
        await scope.begin(conn, principal, "edit")
        before = await current(conn, layer, code, lock=True)
        if before is None:
            raise NotFound(f"no {layer.name} feature {code!r}")
        check_if_match(if_match, before)
        if not await writable(conn, principal, layer, code):
            raise await scope.forbidden(conn, principal, f"{layer.name} {code!r}")
        props = merge_patch(before.feature["properties"], props_patch)
        # a removed member is a cleared field: the file row says so (an absent column is kept)
        props.update({k: None for k, v in props_patch.items() if v is None})
        props["code"] = code
        geometry = body.get("geometry", before.feature["geometry"])
        if "geometry" in body and "district" not in props_patch:
            props.pop("district", None)  # derived again from the new location
        new = {"type": "Feature", "properties": props, "geometry": geometry}
        await _scoped_load(conn, principal, layer, new, settings, crs if "geometry" in body
                           else None, f"edit:{principal.name}",
                           f"{layer.name} {code!r} so changed", catalog,
                           dropped=True)  # fmt: skip
        changed = await current(conn, layer, code)
        assert changed is not None
        await audit.record(conn, principal, "features.update", layer.name, [code],
                           version=changed.version)  # fmt: skip
        summary = await _regrade(
            conn, principal, await _touched_units(conn, layer, before, changed)
        )
        after = await current(conn, layer, code) if summary else changed
        assert after is not None
    return Written(after.feature, after.version, summary)


async def retire(
    conn: asyncpg.Connection, principal: Principal, layer: Layer, code: str,
    if_match: str | None,
) -> Written:  # fmt: skip
    """Retire a feature: its row leaves every map, query and tile; its versions stay."""
    async with conn.transaction():
        await scope.begin(conn, principal, "edit")
        before = await current(conn, layer, code, lock=True)
        if before is None:
            raise NotFound(f"no {layer.name} feature {code!r}")
        check_if_match(if_match, before)
        if not await writable(conn, principal, layer, code):
            raise await scope.forbidden(conn, principal, f"{layer.name} {code!r}")
        units = await _touched_units(conn, layer, before, None)
        if layer.name == "risk_units":
            units.discard(before.id)
        # the DELETE runs as the app role for a scoped principal (`writable` switched)
        try:
            async with conn.transaction():
                deleted = await conn.execute(
                    f"DELETE FROM {sqlfiles.ident(layer.name)} WHERE code = $1", code
                )
        except asyncpg.ForeignKeyViolationError as exc:  # e.g. a team an incident dispatched
            raise Conflict(
                f"{layer.name} {code!r} cannot be retired while {exc.table_name} records "
                "point at it; it stays as it is"
            ) from None
        if deleted != "DELETE 1":  # RLS hid the row from the app role
            await scope.city_wide(conn)
            raise await scope.forbidden(conn, principal, f"{layer.name} {code!r}")
        await scope.city_wide(conn)
        version = await conn.fetchval(
            "SELECT max(version) FROM feature_history WHERE layer = $1 AND code = $2",
            layer.name, code,
        )  # fmt: skip
        await audit.record(conn, principal, "features.retire", layer.name, [code], version=version)
        summary = await _regrade(conn, principal, units)
    return Written(None, version, summary)


async def restore(
    conn: asyncpg.Connection, principal: Principal, layer: Layer, code: str, version: int,
    if_match: str | None, settings: Settings, catalog: CatalogCache | None = None,
) -> Written:  # fmt: skip
    """Make a past version current again (as a new version), re-creating a retired feature."""
    async with conn.transaction():
        await scope.begin(conn, principal, "restore")
        row = await conn.fetchrow(
            sqlfiles.load("editing/sql/version.sql"), layer.name, code, version
        )
        if row is None:
            raise NotFound(f"{layer.name} {code!r} has no version {version}")
        before = await current(conn, layer, code, lock=True)
        if before is not None:
            check_if_match(if_match, before)
        old = _from_history(code, row["data"])
        unit = old["properties"].get("risk_unit_id")
        if unit is not None and "risk_unit_id" in layer.field_map:
            old["properties"]["risk_unit_code"] = await conn.fetchval(
                "SELECT code FROM risk_units WHERE id = $1", unit
            )
        source = f"restore:v{version}"
        await _scoped_load(conn, principal, layer, old, settings, None, source,
                           f"{layer.name} {code!r} as version {version}", catalog)  # fmt: skip
        back = await current(conn, layer, code)
        assert back is not None
        await audit.record(conn, principal, "features.restore", layer.name, [code],
                           restored=version, version=back.version)  # fmt: skip
        summary = await _regrade(conn, principal, await _touched_units(conn, layer, before, back))
        after = await current(conn, layer, code) if summary else back
        assert after is not None
    return Written(after.feature, after.version, summary, created=before is None)
