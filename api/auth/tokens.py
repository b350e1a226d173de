"""api.auth.tokens: short-lived bearer tokens (JWT, HS256) for people who logged in."""

from __future__ import annotations

import time

import jwt

from api.auth.roles import Role
from api.errors import Unauthorized

ALGORITHM = "HS256"


def issue_token(secret: str, username: str, role: Role, ttl_s: int) -> str:
    """A signed token naming the user and role, valid for ttl_s seconds."""
    now = int(time.time())
    claims = {"sub": username, "role": role.value, "iat": now, "exp": now + ttl_s, "typ": "user"}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> tuple[str, Role]:
    """The (username, role) a valid token carries; Unauthorized otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        return str(claims["sub"]), Role(claims["role"])
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired: log in again") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
        raise Unauthorized("the token is not valid") from exc
