"""api.auth.users: people who log in with a password."""

from __future__ import annotations

import asyncpg

from api.auth.orgs import Org, find_org
from api.auth.passwords import DUMMY_HASH, hash_password, verify_password
from api.auth.roles import Role
from api.errors import Conflict


async def create_user(
    conn: asyncpg.Connection, username: str, password: str, role: Role,
    display_name: str | None = None, *, replace: bool = False, org: str | None = None,
) -> None:  # fmt: skip
    """Store a user of organisation `org` (None: city-wide); with replace, reset them."""
    hashed = hash_password(password)
    if org is not None:
        await find_org(conn, org)
    if replace:
        await conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash, org) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET "
            "role = excluded.role, password_hash = excluded.password_hash, active = true, "
            "org = excluded.org",
            username, display_name, role.value, hashed, org,
        )  # fmt: skip
        return
    try:
        await conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash, org) "
            "VALUES ($1, $2, $3, $4, $5)",
            username, display_name, role.value, hashed, org,
        )  # fmt: skip
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a user named {username!r} already exists") from exc


#: The demo users `make demo` creates, one per role: (username, role, password).
#: Documented in docs/api.md; never created when ONEMAP_ENVIRONMENT=production.
DEMO_USERS: tuple[tuple[str, Role, str], ...] = tuple(
    (role.value, role, f"{role.value}-demo") for role in Role
)


#: Scoped demo users (supervision): a district editor (雁塔区, units on its ground), a
#: department editor (住建局, construction and high-rise units anywhere) and a town
#: inspector (a street of 雁塔区); made only where the demo city's organisations exist.
SCOPED_DEMO_USERS: tuple[tuple[str, Role, str, str], ...] = (
    ("yanta-editor", Role.editor, "yanta-editor-demo", "610113"),
    ("zjj-editor", Role.editor, "zjj-editor-demo", "ZJJ"),
    ("town-inspector", Role.editor, "town-inspector-demo", "610113001"),
)


async def ensure_demo_users(
    conn: asyncpg.Connection,
) -> list[tuple[str, Role, str, bool, str | None]]:
    """Create the demo users that are missing; (username, role, password, created, org) each.

    An existing user of that name is left alone (its password may have been changed).
    The scoped users come only when their organisation is there (the demo city).
    """
    wanted: list[tuple[str, Role, str, str | None]] = [(*u, None) for u in DEMO_USERS]
    for username, role, password, code in SCOPED_DEMO_USERS:
        if await conn.fetchval("SELECT true FROM organisations WHERE code = $1", code):
            wanted.append((username, role, password, code))
    out: list[tuple[str, Role, str, bool, str | None]] = []
    for username, role, password, org in wanted:
        exists = await conn.fetchval("SELECT true FROM users WHERE username = $1", username)
        if not exists:
            await create_user(conn, username, password, role, f"Demo {role.value}", org=org)
        out.append((username, role, password, not exists, org))
    return out


async def check_login(
    conn: asyncpg.Connection, username: str, password: str
) -> tuple[Role, Org | None] | None:
    """The role and organisation of an active user whose password matches; None otherwise."""
    row = await conn.fetchrow(
        "SELECT u.role, u.password_hash, u.org, o.kind AS org_kind, o.name AS org_name "
        "FROM users u LEFT JOIN organisations o ON o.code = u.org "
        "WHERE u.username = $1 AND u.active",
        username,
    )
    if row is None:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(row["password_hash"], password):
        return None
    await conn.execute("UPDATE users SET last_login_at = now() WHERE username = $1", username)
    org = Org(row["org"], row["org_kind"], row["org_name"]) if row["org"] else None
    return Role(row["role"]), org
