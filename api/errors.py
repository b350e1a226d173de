"""api.errors: domain exceptions and RFC 9457 problem+json responses, installed by one function."""

from __future__ import annotations

import errno
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("onemap.errors")

PROBLEM_JSON = "application/problem+json"


class OnemapError(Exception):
    """Base of the service's errors: a status, a title and a message a person can act on."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(OnemapError):
    status, title = 400, "Bad request"


class Unauthorized(OnemapError):
    status, title = 401, "Unauthorized"


class Forbidden(OnemapError):
    status, title = 403, "Forbidden"


class NotFound(OnemapError):
    status, title = 404, "Not found"


class Conflict(OnemapError):
    status, title = 409, "Conflict"


class PreconditionFailed(OnemapError):
    status, title = 412, "Precondition failed"


class PreconditionRequired(OnemapError):
    status, title = 428, "Precondition required"


class PayloadTooLarge(OnemapError):
    status, title = 413, "Payload too large"


class UnsupportedMediaType(OnemapError):
    status, title = 415, "Unsupported media type"


class TooManyRequests(OnemapError):
    status, title = 429, "Too many requests"


class ServiceUnavailable(OnemapError):
    status, title = 503, "Service unavailable"


class InsufficientStorage(OnemapError):
    status, title = 507, "Insufficient storage"


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append({"field": ".".join(loc), "message": message})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return detail, errors


def domain_response(exc: OnemapError) -> JSONResponse:
    """The problem document of a domain error."""
    extra = dict(exc.extra)
    headers = extra.pop("headers", None)
    return problem(exc.status, exc.title, exc.detail, headers=headers, **extra)


def timeout_response() -> JSONResponse:
    """The 503 of a query cancelled by the statement timeout."""
    return problem(
        503,
        "Query timed out",
        "the query ran past the statement timeout and was cancelled; narrow it and retry",
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as problem+json: domain errors, bad input (400), HTTP errors, the rest."""

    @app.exception_handler(OnemapError)
    async def _domain(request: Request, exc: OnemapError) -> JSONResponse:
        return domain_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem(400, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem(exc.status_code, title, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(asyncpg.QueryCanceledError)
    async def _timeout(request: Request, exc: asyncpg.QueryCanceledError) -> JSONResponse:
        return timeout_response()

    @app.exception_handler(asyncpg.InsufficientPrivilegeError)
    async def _outside_scope(request: Request, exc: asyncpg.InsufficientPrivilegeError) -> Any:
        # row-level security refused a scoped principal's write (db/migrations/sql/0018_*)
        if "row-level security" not in str(exc):
            return await _unexpected(request, exc)
        principal = getattr(request.state, "principal", None)
        scope = principal.scope if principal is not None else "unknown"
        return problem(403, "Forbidden", f"the write is outside your scope ({scope})", scope=scope)

    @app.exception_handler(asyncpg.DataError)
    async def _bad_value(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # SQLSTATE class 22 (and asyncpg's own argument encoding): a value the request sent
        log.info("data error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem(
            400,
            "Bad request",
            "a value in the request is out of range or not valid for its field",
        )

    @app.exception_handler(TimeoutError)
    async def _client_timeout(request: Request, exc: TimeoutError) -> JSONResponse:
        return problem(
            503,
            "Query timed out",
            "the query ran past its time limit and was cancelled; narrow it and retry",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(OSError)
    async def _db_down(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("out of disk space on %s %s: %s", request.method, request.url.path, exc)
            return problem(
                507,
                "Insufficient storage",
                "the server ran out of disk space for this request; nothing was stored",
                headers={"Retry-After": "60"},
            )
        log.warning("database unreachable: %s", exc)
        return problem(
            503,
            "Service unavailable",
            "the database is unreachable; retry shortly",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(asyncpg.exceptions.DiskFullError)
    async def _db_disk_full(request: Request, exc: Exception) -> JSONResponse:
        log.error("database disk full on %s %s", request.method, request.url.path)
        return problem(
            507,
            "Insufficient storage",
            "the database ran out of disk space; nothing of this request was stored",
            headers={"Retry-After": "60"},
        )

    # a connection lost mid-request (the server stopped or restarted), the server going down
    # or starting up, or out of connection slots: the request may be retried shortly
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.exceptions.OperatorInterventionError)
    @app.exception_handler(asyncpg.exceptions.InsufficientResourcesError)
    async def _db_conn(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database connection error: %s", exc)
        return problem(
            503,
            "Service unavailable",
            "the database connection failed; retry shortly",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(asyncpg.InterfaceError)
    async def _client_side(request: Request, exc: asyncpg.InterfaceError) -> JSONResponse:
        if "closed" in str(exc):  # the connection died under the request (server restart)
            return await _db_conn(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")
