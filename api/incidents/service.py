"""api.incidents.service: record incidents, plan the response, dispatch, move dispatches, close.

Every write goes through `write(...)`'s callers here, in the caller's transaction, audited and
put on the incident's timeline (`incident_events`, NOTIFYed: the one hub streams it on SSE).
Incident writes are city-wide (editor, integrator, admin); a supervision scope can wrap
`record`, `dispatch`, `move` and `close` later.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import asyncpg

from api import audit
from api.analysis import impact
from api.analysis.geometry import parse_geometry
from api.analysis.models import ImpactIn
from api.auth.principal import Principal
from api.errors import BadRequest, Conflict, NotFound
from api.incidents import cap
from api.incidents.models import DispatchIn, IncidentIn
from api.risk_events.accidents import AccidentIn, record_accident
from api.risk_events.common import FieldBadRequest, FieldNotFound, check_time, iso
from api.routing import OffNetwork, travel, travel_times
from api.routing.engine import Travel
from api.settings import Settings
from api.sqlfiles import load

#: severity (1 = I级) -> the accident grade of State Council Decree 493
ACCIDENT_GRADE: dict[int, Literal["general", "large", "major", "especially_major"]] = {
    1: "especially_major",
    2: "major",
    3: "large",
    4: "general",
}
#: the order a dispatch moves through
STATES = ("dispatched", "en_route", "on_scene", "released")
#: the NOTIFY channel of incident_events (the one hub hears it; SSE streams it)
CHANNEL = "onemap_incident_changed"
#: how many candidates of each sort a plan times over the network
CANDIDATES = 30


async def timeline(
    conn: asyncpg.Connection, incident_id: int, who: Principal | str, type_: str, **details: Any
) -> None:
    """One line on the incident's timeline (NOTIFYed to every process) and in the audit log."""
    name = audit.who(who)[0]
    await conn.execute(
        "INSERT INTO incident_events (incident_id, type, actor, details) VALUES ($1, $2, $3, $4)",
        incident_id,
        type_,
        name,
        details,
    )
    await audit.record(conn, who, f"incidents.{type_}", "incidents", [str(incident_id)], **details)


async def get(conn: asyncpg.Connection, incident_id: int) -> dict[str, Any]:
    """One incident (404 when there is none)."""
    row = await conn.fetchrow(load("incidents/sql/select.sql"), incident_id, None, 1)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return _json(row)


async def listing(conn: asyncpg.Connection, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Incidents, newest first."""
    rows = await conn.fetch(load("incidents/sql/select.sql"), None, status, limit)
    return [_json(r) for r in rows]


def _json(row: asyncpg.Record) -> dict[str, Any]:
    out = iso(dict(row))
    out["geometry"] = (
        json.loads(out["geometry"]) if isinstance(out["geometry"], str) else out["geometry"]
    )
    out["point"] = list(out["point"])
    return out


async def record(
    conn: asyncpg.Connection, body: IncidentIn, who: Principal | str, settings: Settings
) -> tuple[dict[str, Any], set[int]]:
    """Store an incident (caller's transaction): checked, audited, on its timeline; an accident
    record at each risk unit it touches when its kind is an accident. The incident and the
    units to regrade."""
    check_time(body.occurred_at, settings, "occurred_at")
    if body.geometry.get("type") not in ("Point", "Polygon", "MultiPolygon"):
        raise FieldBadRequest(
            "geometry", "geometry must be a GeoJSON Point, Polygon or MultiPolygon"
        )
    try:
        geom = parse_geometry(body.geometry, settings.analysis_max_vertices)
    except BadRequest as exc:
        raise FieldBadRequest("geometry", exc.detail) from None
    kind = await conn.fetchrow("SELECT * FROM incident_kinds WHERE kind = $1", body.kind)
    if kind is None:
        known = await conn.fetchval(
            "SELECT string_agg(kind, ', ' ORDER BY kind) FROM incident_kinds"
        )
        raise FieldBadRequest("kind", f"unknown kind {body.kind!r}; one of {known}")
    name = audit.who(who)[0]
    title = body.title or f"{kind['name_zh']}（{kind['name_en']}）"
    incident_id = await conn.fetchval(
        "INSERT INTO incidents (kind, severity, title, description, reporter, occurred_at, "
        "district, created_by, geom) VALUES ($1, $2, $3, $4, $5, $6, (SELECT d.code FROM "
        "districts d WHERE ST_Intersects(d.geom, ST_PointOnSurface(ST_GeomFromWKB($7, 4326))) "
        "LIMIT 1), $8, ST_GeomFromWKB($7, 4326)) RETURNING id",
        body.kind,
        body.severity,
        title,
        body.description,
        body.reporter or name,
        body.occurred_at,
        geom.wkb,
        name,
    )
    await timeline(conn, incident_id, who, "reported", kind=body.kind, severity=body.severity)
    units: set[int] = set()
    if kind["accident"]:
        ewkb = await conn.fetchval("SELECT ST_AsEWKB(ST_GeomFromWKB($1, 4326))", geom.wkb)
        touched = await conn.fetch(
            load("incidents/sql/touched_units.sql"), ewkb, settings.incident_touch_m
        )
        codes = []
        for unit in touched:
            code = f"INC{incident_id}-{unit['code']}"[:128]
            accident = AccidentIn(
                code=code,
                name=title[:200],
                risk_unit=unit["code"],
                grade=ACCIDENT_GRADE[body.severity],
                occurred_at=body.occurred_at,
                description=f"incident {incident_id}: {kind['name_en']}, severity {body.severity}",
            )
            _, got = await record_accident(  # the response's own record: city-wide
                conn, accident, who, settings, f"incident:{incident_id}", scoped=False
            )
            if got != "all":
                units |= got
            codes.append(code)
        if codes:
            await conn.execute(
                "UPDATE incidents SET accident_code = $2 WHERE id = $1", incident_id, codes[0]
            )
            await timeline(conn, incident_id, who, "accident_recorded", accidents=codes)
    await cap.sync(conn, settings)
    return await get(conn, incident_id), units


async def _impact(
    conn: asyncpg.Connection, inc: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """What the incident reaches within its kind's radius (the impact analysis)."""
    body = ImpactIn(
        geometry=inc["geometry"], radius_m=inc["radius_m"], shelters_max=0, teams_k=0, depots_k=0
    )
    text = await impact.run(conn, body, settings)
    if text is None:
        raise BadRequest(
            "the incident's impact zone holds more features than analysis_max_features"
        )
    fc = json.loads(text)
    feats = fc.get("features") or []
    pick = {"risk_unit": "risk_units", "vulnerable_site": "vulnerable_sites"}
    out: dict[str, Any] = {"summary": fc.get("summary"), "risk_units": [], "vulnerable_sites": []}
    zone = None
    for f in feats:
        role = f["properties"].get("role")
        if role == "impact_zone":
            zone = f["geometry"]
        elif role in pick:
            p = f["properties"]
            out[pick[role]].append(
                {
                    k: p.get(k)
                    for k in (
                        "code",
                        "name",
                        "current_level",
                        "category",
                        "kind",
                        "occupants",
                        "distance_m",
                    )
                    if k in p
                }
            )
    out["zone"] = zone
    return out


async def plan(
    conn: asyncpg.Connection,
    incident_id: int,
    settings: Settings,
    days: int | None = None,
    teams_k: int = 5,
    routes: int = 1,
) -> dict[str, Any]:
    """The response plan: affected, teams/depots/shelters by travel time, needs vs stock."""
    inc = await get(conn, incident_id)
    days = days or settings.incident_needs_days
    affected = await _impact(conn, inc, settings)
    ewkb = await conn.fetchval(
        "SELECT ST_AsEWKB(ST_SetSRID(ST_MakePoint($1, $2), 4326))", *inc["point"]
    )
    affected["lifelines"] = await conn.fetchval(
        load("incidents/sql/lifelines.sql"), ewkb, inc["radius_m"]
    )
    specialities = await conn.fetchval(
        "SELECT specialities FROM incident_kinds WHERE kind = $1", inc["kind"]
    )
    cands = [
        dict(r)
        for r in await conn.fetch(
            load("incidents/sql/candidates.sql"), ewkb, list(specialities), CANDIDATES
        )
    ]
    max_s = 60.0 * settings.incident_plan_minutes
    at = (inc["point"][0], inc["point"][1])
    snap = settings.routing_max_snap_m
    coming = [c for c in cands if c["what"] in ("team", "depot")]
    going = [c for c in cands if c["what"] == "shelter"]
    # two Dijkstras on the in-memory network: towards the incident (teams and depots come
    # to it, one-way streets obeyed) and away from it (people go to the shelters)
    trip_in: Travel | None = None
    trip_out: Travel | None = None
    try:
        trip_in = await travel(
            conn, at, [(c["lon"], c["lat"]) for c in coming], max_s, snap, inbound=True
        )
        trip_out = await travel(conn, at, [(c["lon"], c["lat"]) for c in going], max_s, snap)
        t_in, t_out, on_network = trip_in.times, trip_out.times, True
    except OffNetwork:
        t_in, t_out, on_network = [None] * len(coming), [None] * len(going), False
    for i, c in enumerate(coming):
        c["_trip"] = i
    for c, t in zip([*coming, *going], [*t_in, *t_out], strict=True):
        c["eta_s"] = None if t is None else round(t, 3)
    reached = sorted((c for c in cands if c["eta_s"] is not None), key=lambda c: c["eta_s"])

    def public(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in ("what", "detail", "amount", "_trip")}

    teams = [
        {
            **public(c),
            "speciality": c["detail"],
            "headcount": c["amount"],
            "available": not c["busy"],
        }
        for c in reached
        if c["what"] == "team"
    ][:teams_k]
    depots = [{**public(c), "level": c["detail"]} for c in reached if c["what"] == "depot"]
    stock = await conn.fetch(
        "SELECT r.code, s.item_type, s.quantity, s.unit FROM depot_stock s JOIN reserve_depots r "
        "ON r.id = s.depot_id WHERE r.code = ANY ($1::text[]) AND s.quantity > 0 "
        "ORDER BY r.code, s.item_type",
        [d["code"] for d in depots],
    )
    by_depot: dict[str, list[dict[str, Any]]] = {}
    for s in stock:
        by_depot.setdefault(s["code"], []).append(
            {"item_type": s["item_type"], "quantity": s["quantity"], "unit": s["unit"]}
        )
    for d in depots:
        d.pop("busy", None)
        d["stock"] = by_depot.get(d["code"], [])
    population = float((affected["summary"] or {}).get("population") or 0)
    needs = [
        dict(r)
        for r in await conn.fetch(
            load("incidents/sql/needs.sql"), population, days, [d["code"] for d in depots]
        )
    ]
    for n in needs:
        n["required"] = round(n["required"], 1)
        n["items_required"] = None if n["items_required"] is None else int(n["items_required"])
        n["covered"] = (
            None if n["items_required"] is None else (n["stock_in_reach"] >= n["items_required"])
        )
    shelters: list[dict[str, Any]] = []
    room = 0
    for c in (c for c in reached if c["what"] == "shelter"):
        if room >= population and shelters:
            break
        room += c["amount"]
        shelters.append(
            {**public(c), "type": c["detail"], "free": c["amount"], "cumulative_free": room}
        )
        shelters[-1].pop("busy", None)
    for team in teams:
        team.pop("busy", None)
    drawn = []
    trips = {(c["what"], c["code"]): c["_trip"] for c in coming}
    for what, lst in (("team", teams[:routes]), ("depot", depots[: max(0, routes - 1)])):
        for c in lst:
            assert trip_in is not None  # reached: the incident is on the network
            r = await trip_in.route(conn, trips[(what, c["code"])])
            drawn.append({"what": what, "code": c["code"], **r})
    return {
        "incident": inc,
        "on_network": on_network,
        "minutes": settings.incident_plan_minutes,
        "days": days,
        "affected": affected,
        "population": population,
        "teams": teams,
        "depots": depots,
        "shelters": shelters,
        "shelter_room": room,
        "needs": needs,
        "needs_version": needs[0]["version"] if needs else None,
        "routes": drawn,
        "dispatches": await dispatches(conn, incident_id),
    }


async def dispatches(
    conn: asyncpg.Connection, incident_id: int, one: int | None = None
) -> list[dict[str, Any]]:
    """The incident's dispatches (or one of them)."""
    rows = await conn.fetch(load("incidents/sql/dispatch_select.sql"), incident_id, one)
    return [iso(dict(r)) for r in rows]


async def _open(conn: asyncpg.Connection, incident_id: int) -> asyncpg.Record:
    """The incident, locked; 404 when none, 409 when closed."""
    row = await conn.fetchrow(
        "SELECT id, status, ST_X(ST_PointOnSurface(geom)) AS lon, "
        "ST_Y(ST_PointOnSurface(geom)) AS lat FROM incidents WHERE id = $1 FOR SHARE",
        incident_id,
    )
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    if row["status"] != "open":
        raise Conflict(f"incident {incident_id} is closed")
    return row


async def eta(
    conn: asyncpg.Connection, incident_id: int, body: DispatchIn, settings: Settings
) -> float | None:
    """Travel time (s) from the team's base or the depot to the incident (None: not reachable)."""
    table = "rescue_teams" if body.team is not None else "reserve_depots"
    code = body.team if body.team is not None else body.depot
    field = "team" if body.team is not None else "depot"
    row = await conn.fetchrow(
        f"SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM {table} WHERE code = $1", code
    )  # table from the two above, never from input
    inc = await conn.fetchrow(
        "SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
        "FROM incidents WHERE id = $1",
        incident_id,
    )
    if inc is None:
        raise NotFound(f"no incident {incident_id}")
    if row is None:
        raise FieldNotFound(field, f"no {field} with code {code!r}")
    try:
        (t,) = await travel_times(
            conn,
            (inc["lon"], inc["lat"]),
            [(row["lon"], row["lat"])],
            60.0 * settings.routing_max_minutes,
            settings.routing_max_snap_m,
            inbound=True,
        )
    except OffNetwork:
        return None
    return None if t is None or math.isnan(t) else round(t, 3)


async def dispatch(
    conn: asyncpg.Connection,
    incident_id: int,
    body: DispatchIn,
    who: Principal | str,
    eta_s: float | None,
) -> dict[str, Any]:
    """Dispatch a team, or items from a depot (the stock falls in this transaction, never below
    zero). 409 when the team is on another job or a depot holds less than asked."""
    await _open(conn, incident_id)
    name = audit.who(who)[0]
    if body.team is not None:
        team = await conn.fetchrow("SELECT id, name FROM rescue_teams WHERE code = $1", body.team)
        if team is None:
            raise FieldNotFound("team", f"no team with code {body.team!r}")
        try:
            async with conn.transaction():
                did = await conn.fetchval(
                    "INSERT INTO dispatches (incident_id, team_id, eta_s, created_by) "
                    "VALUES ($1, $2, $3, $4) RETURNING id",
                    incident_id,
                    team["id"],
                    eta_s,
                    name,
                )
        except asyncpg.UniqueViolationError:
            busy = await conn.fetchval(
                "SELECT incident_id FROM dispatches WHERE team_id = $1 AND status <> 'released'",
                team["id"],
            )
            raise Conflict(
                f"team {body.team} is taken (dispatched to incident {busy}, not released)",
                team=body.team,
                incident=busy,
            ) from None
        await timeline(
            conn, incident_id, who, "dispatched", dispatch=did, team=body.team, eta_s=eta_s
        )
    else:
        depot = await conn.fetchrow("SELECT id FROM reserve_depots WHERE code = $1", body.depot)
        if depot is None:
            raise FieldNotFound("depot", f"no depot with code {body.depot!r}")
        assert body.items
        items = sorted(body.items, key=lambda i: i.item_type)  # one lock order: no deadlock
        taken = []
        for it in items:
            left = await conn.fetchval(
                "UPDATE depot_stock SET quantity = quantity - $3, updated_at = now() "
                "WHERE depot_id = $1 AND item_type = $2 AND quantity >= $3 RETURNING quantity",
                depot["id"],
                it.item_type,
                it.quantity,
            )
            if left is None:
                have = await conn.fetchval(
                    "SELECT quantity FROM depot_stock WHERE depot_id = $1 AND item_type = $2",
                    depot["id"],
                    it.item_type,
                )
                raise Conflict(
                    f"depot {body.depot} holds {have or 0} of {it.item_type!r}, "
                    f"less than the {it.quantity} asked",
                    depot=body.depot,
                    item_type=it.item_type,
                    available=have or 0,
                    asked=it.quantity,
                )
            taken.append({"item_type": it.item_type, "quantity": it.quantity, "left": left})
        did = await conn.fetchval(
            "INSERT INTO dispatches (incident_id, depot_id, items, eta_s, created_by) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            incident_id,
            depot["id"],
            [{"item_type": i.item_type, "quantity": i.quantity} for i in items],
            eta_s,
            name,
        )
        await timeline(
            conn,
            incident_id,
            who,
            "dispatched",
            dispatch=did,
            depot=body.depot,
            items=taken,
            eta_s=eta_s,
        )
    (out,) = await dispatches(conn, incident_id, did)
    return out


async def move(
    conn: asyncpg.Connection,
    incident_id: int,
    dispatch_id: int,
    status: str,
    who: Principal | str,
) -> dict[str, Any]:
    """Move a dispatch forward (dispatched -> en_route -> on_scene -> released), with its time."""
    row = await conn.fetchrow(
        "SELECT status FROM dispatches WHERE id = $1 AND incident_id = $2 FOR UPDATE",
        dispatch_id,
        incident_id,
    )
    if row is None:
        raise NotFound(f"no dispatch {dispatch_id} of incident {incident_id}")
    if STATES.index(status) <= STATES.index(row["status"]):
        raise Conflict(f"dispatch {dispatch_id} is {row['status']}; it cannot go to {status}")
    column = {"en_route": "en_route_at", "on_scene": "on_scene_at", "released": "released_at"}
    await conn.execute(
        f"UPDATE dispatches SET status = $2, {column[status]} = now() WHERE id = $1",
        dispatch_id,
        status,
    )
    await timeline(conn, incident_id, who, status, dispatch=dispatch_id)
    (out,) = await dispatches(conn, incident_id, dispatch_id)
    return out


async def close(
    conn: asyncpg.Connection, incident_id: int, who: Principal | str, settings: Settings
) -> dict[str, Any]:
    """Close the incident: every dispatch still out is released; its CAP alert cancelled."""
    await conn.fetchrow("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE", incident_id)
    await _open(conn, incident_id)
    released = await conn.fetch(
        "UPDATE dispatches SET status = 'released', released_at = now() "
        "WHERE incident_id = $1 AND status <> 'released' RETURNING id",
        incident_id,
    )
    await conn.execute(
        "UPDATE incidents SET status = 'closed', closed_at = now() WHERE id = $1", incident_id
    )
    await timeline(conn, incident_id, who, "closed", released=[r["id"] for r in released])
    await cap.sync(conn, settings)
    return await get(conn, incident_id)


async def set_severity(
    conn: asyncpg.Connection,
    incident_id: int,
    severity: int,
    who: Principal | str,
    settings: Settings,
) -> dict[str, Any]:
    """Re-assess an open incident's severity (its CAP alert is updated, issued or cancelled)."""
    old = await _open(conn, incident_id)
    before = await conn.fetchval("SELECT severity FROM incidents WHERE id = $1", old["id"])
    await conn.execute("UPDATE incidents SET severity = $2 WHERE id = $1", incident_id, severity)
    await timeline(conn, incident_id, who, "severity", before=before, after=severity)
    await cap.sync(conn, settings)
    return await get(conn, incident_id)


async def events(conn: asyncpg.Connection, incident_id: int) -> list[dict[str, Any]]:
    """The incident's timeline, oldest first."""
    await get(conn, incident_id)
    rows = await conn.fetch(
        "SELECT id, at, type, actor, details FROM incident_events WHERE incident_id = $1 "
        "ORDER BY id",
        incident_id,
    )
    return [iso(dict(r)) for r in rows]


EVENT_SQL = """
SELECT e.id, e.incident_id, e.at, e.type, e.actor, e.details, i.kind, i.severity, i.status
  FROM incident_events e JOIN incidents i ON i.id = e.incident_id
"""


async def events_after(
    conn: asyncpg.Connection, after_id: int, limit: int = 500
) -> list[dict[str, Any]]:
    """Timeline lines of every incident with an id above `after_id`, oldest first."""
    rows = await conn.fetch(EVENT_SQL + " WHERE e.id > $1 ORDER BY e.id LIMIT $2", after_id, limit)
    return [iso(dict(r)) for r in rows]


async def last_event_id(conn: asyncpg.Connection) -> int:
    """The newest timeline id (a new SSE client starts after it)."""
    return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM incident_events"))
