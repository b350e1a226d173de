"""api.auth.tokens: short-lived bearer tokens (JWT, HS256) for people who logged in."""

from __future__ import annotations

import time

import jwt

from api.auth.orgs import Org
from api.auth.roles import Role
from api.errors import Unauthorized

ALGORITHM = "HS256"


def issue_token(secret: str, username: str, role: Role, ttl_s: int, org: Org | None = None) -> str:
    """A signed token naming the user, role and organisation, valid for ttl_s seconds."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": username, "role": role.value, "iat": now, "exp": now + ttl_s, "typ": "user",
    }  # fmt: skip
    if org is not None:
        claims["org"] = [org.code, org.kind, org.name]
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> tuple[str, Role, Org | None]:
    """The (username, role, organisation) a valid token carries; Unauthorized otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        org = claims.get("org")
        return (
            str(claims["sub"]),
            Role(claims["role"]),
            Org(str(org[0]), str(org[1]), str(org[2])) if org else None,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired: log in again") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise Unauthorized("the token is not valid") from exc
