"""api.cli.access: `onemap keys create|list|revoke` and `onemap users create`."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from api import audit
from api.auth.keys import create_key, list_keys, revoke_key
from api.auth.roles import Role
from api.auth.users import create_user, ensure_demo_users
from api.cli import app
from api.db import connect
from api.errors import OnemapError
from api.settings import Settings

keys_app = typer.Typer(help="API keys for systems.", no_args_is_help=True)
users_app = typer.Typer(help="People who log in.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
err = Console(stderr=True)


def _fail(exc: OnemapError) -> typer.Exit:
    err.print(f"[red]{exc.detail}[/red]")
    return typer.Exit(1)


@keys_app.command("create")
def keys_create(
    role: Role = typer.Option(..., help="the key's role"),
    name: str = typer.Option(..., help="a unique name for the system that uses the key"),
    org: str | None = typer.Option(
        None, help="the organisation's code (e.g. 610113); without it the key is city-wide"
    ),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""

    async def run() -> str:
        async with connect(Settings()) as conn, conn.transaction():
            key, _ = await create_key(conn, name, role, "cli", org)
            await audit.record(conn, "cli", "keys.create", "api_keys", [name], role=role, org=org)
            return key

    try:
        key = asyncio.run(run())
    except OnemapError as exc:
        raise _fail(exc) from exc
    where = f"organisation {org}" if org else "city-wide"
    err.print(f"API key [bold]{name}[/bold] ({role.value}, {where}); it is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (names, roles, prefixes; never the keys)."""

    async def run() -> list[dict[str, object]]:
        async with connect(Settings()) as conn:
            return [k.as_json() for k in await list_keys(conn)]

    table = Table("name", "role", "org", "prefix", "created", "revoked")
    for k in asyncio.run(run()):
        table.add_row(*(str(k[c] or "") for c in ("name", "role", "org", "prefix", "created_at",
                                                   "revoked_at")))  # fmt: skip
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(name: str = typer.Argument(..., help="the key's name")) -> None:
    """Revoke a key; it stops working at once."""

    async def run() -> None:
        async with connect(Settings()) as conn, conn.transaction():
            await revoke_key(conn, name)
            await audit.record(conn, "cli", "keys.revoke", "api_keys", [name])

    try:
        asyncio.run(run())
    except OnemapError as exc:
        raise _fail(exc) from exc
    err.print(f"revoked {name}")


@users_app.command("create")
def users_create(
    username: str = typer.Option(...),
    role: Role = typer.Option(...),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    replace: bool = typer.Option(False, help="reset the password and role if the user exists"),
    org: str | None = typer.Option(
        None, help="the organisation's code (e.g. 610113); without it the user is city-wide"
    ),
) -> None:
    """Create a user who logs in with a password."""

    async def run() -> None:
        async with connect(Settings()) as conn, conn.transaction():
            await create_user(conn, username, password, role, replace=replace, org=org)
            await audit.record(conn, "cli", "users.create", "users", [username], role=role, org=org)

    try:
        asyncio.run(run())
    except OnemapError as exc:
        raise _fail(exc) from exc
    err.print(f"user {username} ({role.value}) ready")


def demo_users(
    settings: Settings, console: Console, base_url: str = "http://127.0.0.1:8000"
) -> None:
    """Create the missing demo users (one per role) and print how to log in with them."""
    if settings.environment == "production":
        console.print("[yellow]production: no demo users are created[/yellow]")
        return

    async def run() -> list[tuple[str, Role, str, bool, str | None]]:
        async with connect(settings) as conn, conn.transaction():
            users = await ensure_demo_users(conn)
            made = [u[0] for u in users if u[3]]
            if made:
                await audit.record(conn, "cli", "users.create_demo", "users", made)
            return users

    users = asyncio.run(run())
    table = Table(
        "username", "password", "role", "organisation", "", title="demo users (log in with these)"
    )
    for username, role, password, created, org in users:
        table.add_row(
            username, password, role.value, org or "city-wide", "new" if created else "existing"
        )
    console.print(table)
    console.print(
        f"Log in on the map at {base_url}/ or get a token:\n"
        f"  curl -s -X POST {base_url}/auth/token -H 'content-type: application/json' "
        """-d '{"username": "analyst", "password": "analyst-demo"}'\n"""
        "then send it as 'Authorization: Bearer <access_token>'. "
        "Users that were already there keep their passwords."
    )


@users_app.command("demo")
def users_demo() -> None:
    """Create one demo user per role (documented passwords), only those missing."""
    demo_users(Settings(), err)
