"""api.editing.scope: who may write what, set per transaction for PostgreSQL's row-level security.

A write made for a scoped principal (one with an organisation) runs, inside its
transaction, as the role `onemap_app` (not the owner, not a superuser, no BYPASSRLS)
with `onemap.org` set, so the policies of db/migrations/sql/0018_policies.sql hold
whatever the route checked. City-wide principals, imports, grading and system jobs
leave `onemap.org` unset: city-wide.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import asyncpg

from api import sqlfiles
from api.auth.principal import Principal
from api.errors import Forbidden

#: the database role scoped writes run as (created by scripts/db-up, granted by migration 0018)
APP_ROLE = "onemap_app"

Via = Literal["edit", "import", "restore", "system"]


async def begin(conn: asyncpg.Connection, principal: Principal, via: Via) -> None:
    """Name the actor and the channel of this transaction's writes (history, audit).

    The organisation is set only where the scope applies (`set_org`): the owner's own
    reads and row locks before the write stay city-wide.
    """
    await conn.execute(
        "SELECT set_config('onemap.actor', $1, true), set_config('onemap.actor_kind', $2, true), "
        "set_config('onemap.via', $3, true)",
        principal.name,
        principal.kind,
        via,
    )


async def set_org(conn: asyncpg.Connection, principal: Principal) -> None:
    """The principal's organisation for the rest of the transaction ('' = city-wide)."""
    org = principal.org.code if principal.org else ""
    await conn.execute("SELECT set_config('onemap.org', $1, true)", org)


async def drop_privileges(conn: asyncpg.Connection, principal: Principal) -> None:
    """For a scoped principal, the rest of the transaction runs as the app role (RLS binds it)."""
    if principal.org is not None:  # SET LOCAL ROLE as set_config: one round trip with the org
        await conn.execute(
            "SELECT set_config('onemap.org', $1, true), set_config('role', $2, true)",
            principal.org.code,
            APP_ROLE,
        )


async def enter(conn: asyncpg.Connection, principal: Principal, via: Via) -> None:
    """Begin a write for `principal` in the caller's transaction (scoped: as the app role)."""
    await begin(conn, principal, via)
    await drop_privileges(conn, principal)


async def city_wide(conn: asyncpg.Connection) -> None:
    """Back to the owner, city-wide (after the scoped write: audit, regrade, history reads)."""
    await conn.execute("SET LOCAL ROLE NONE; SELECT set_config('onemap.org', '', true)")


async def describe(conn: asyncpg.Connection, principal: Principal) -> str:
    """What the principal's scope lets it write, in words (a 403 says it)."""
    org = principal.org
    if org is None:
        return "city-wide: every feature"
    if org.kind == "department":
        cats = await conn.fetchval(
            "SELECT coalesce(string_agg(category, ', ' ORDER BY category), 'none') "
            "FROM category_departments WHERE department = $1",
            org.code,
        )
        return (
            f"{principal.scope}: risk units (and their hidden hazards and accidents) of the "
            f"categories {cats}; no weather warnings or special periods"
        )
    return (
        f"{principal.scope}: features and events (hidden hazards, accidents, weather "
        "warnings, special periods) whose geometry lies within its boundary"
    )


async def forbidden(conn: asyncpg.Connection, principal: Principal, what: str) -> Forbidden:
    """The 403 of a write outside the principal's scope, naming the scope."""
    scope = await describe(conn, principal)
    org = principal.org
    return Forbidden(
        f"{what} is outside your scope ({scope})",
        scope={"org": org.code if org else None, "kind": org.kind if org else None,
               "description": scope},
    )  # fmt: skip


async def require(
    conn: asyncpg.Connection, principal: Principal, what: str, category: str | None,
    wkb: bytes | None,
) -> None:  # fmt: skip
    """The route's own check before a write of a record of `category` at `wkb` (EWKB, None:
    citywide): 403 naming the scope unless the policies would let it in (the same SQL rule)."""
    if principal.org is None:
        return
    await set_org(conn, principal)
    if not await conn.fetchval(sqlfiles.load("editing/sql/may_write_at.sql"), category, wkb):
        raise await forbidden(conn, principal, what)


@asynccontextmanager
async def scoped(
    conn: asyncpg.Connection, who: Principal | str, what: str, category: str | None,
    wkb: bytes | None,
) -> AsyncIterator[None]:  # fmt: skip
    """A write of one record for `who` (a Principal; a str is a city-wide system caller):
    the route's check (`require`), then the block runs in a savepoint as the app role, so
    the policies refuse it in SQL even had the check been skipped; city-wide again after."""
    principal = who if isinstance(who, Principal) else None
    if principal is None:
        async with conn.transaction():
            yield
        return
    await require(conn, principal, what, category, wkb)
    try:
        async with conn.transaction():
            await drop_privileges(conn, principal)
            yield
    except asyncpg.InsufficientPrivilegeError as exc:
        if not is_rls_refusal(exc):
            raise
        raise await forbidden(conn, principal, what) from None
    finally:
        await city_wide(conn)


def is_rls_refusal(exc: BaseException) -> bool:
    """Whether a database error is a row-level security refusal (new row outside the scope)."""
    return isinstance(exc, asyncpg.InsufficientPrivilegeError) and "row-level security" in str(exc)


async def enter_hazard(conn: asyncpg.Connection, principal: Principal, code: str) -> None:
    """Begin a step of hidden hazard `code` for `principal`: 403 naming the scope when the
    hazard is outside it (the policy would hide it: a 404 would mislead), then as `enter`."""
    await begin(conn, principal, "edit")
    if principal.org is not None:
        await set_org(conn, principal)
        ok = await conn.fetchval(sqlfiles.load("editing/sql/hazard_writable.sql"), code)
        if ok is False:
            raise await forbidden(conn, principal, f"hidden hazard {code!r}")
        await drop_privileges(conn, principal)
