"""api.openapi_doc: the OpenAPI document tells the truth about errors.

FastAPI documents a 422 the service never sends and none of the problem
responses it does send. This rewrites every operation's responses once, when
the document is first built: the 422 goes, and each operation lists the RFC
9457 problem responses it can give (400 bad input, 401/403 unless public, 404
when the path names something, 409/413/415 when it takes a body, 409 on a
delete, 429 past a rate limit, 503 when the database is away or a query times
out).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.errors import PROBLEM_JSON

#: operations anyone may call (no credential)
PUBLIC_OPERATIONS = frozenset({"healthz", "readyz", "login"})

#: responses an operation documents itself, with a body that is not a problem document
OWN_ERROR_BODIES = {"readyz": frozenset({"503"})}

#: paths that answer 404 until something exists (the population raster before its import)
NOT_FOUND_PREFIXES = ("/raster/population",)

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    "400": "bad input: the problem says which parameter or member and why",
    "401": "no credential, or one that is not valid (expired, revoked)",
    "403": "the caller's role may not do this",
    "404": "nothing of that name",
    "409": "conflicts with what is stored",
    "413": "the request or one of its parts is past a cap (the problem names it)",
    "415": "not a media type this operation accepts",
    "429": "past the caller's rate limit; retry after Retry-After seconds",
    "503": "the database is unavailable or the query ran past its time limit",
}


def _problem(code: str, existing: dict[str, Any] | None) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    out = dict(existing or {})
    out.setdefault("description", _DESCRIPTIONS[code])
    content = dict(out.get("content") or {})
    content[PROBLEM_JSON] = {"schema": ref}
    content.pop("application/json", None)
    out["content"] = content
    return out


def _plain_tuples(node: Any) -> None:
    """`prefixItems` (tuples) become plain `items` with a fixed length.

    Tuples such as titiler's band descriptions (tuple[str, str]) come out as
    prefixItems, which OpenAPI tooling still reads as draft-4 tuple `items`
    and rejects; members that differ become an anyOf of the member schemas.
    """
    if isinstance(node, dict):
        prefix = node.get("prefixItems")
        if isinstance(prefix, list) and prefix and "items" not in node:
            members = [p for i, p in enumerate(prefix) if p not in prefix[:i]]
            node.pop("prefixItems")
            node["items"] = members[0] if len(members) == 1 else {"anyOf": members}
            node.setdefault("minItems", len(prefix))
            node.setdefault("maxItems", len(prefix))
        for value in node.values():
            _plain_tuples(value)
    elif isinstance(node, list):
        for value in node:
            _plain_tuples(value)


def amend(doc: dict[str, Any]) -> dict[str, Any]:
    """Document the problem responses of every operation (in place; returns `doc`)."""
    _plain_tuples(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete", "head"):
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            responses.pop("422", None)
            codes = ["400", "429", "503"]
            if op.get("operationId") not in PUBLIC_OPERATIONS:
                codes += ["401", "403"]
            elif op.get("operationId") == "login":
                codes += ["401"]
            if "{" in path or "requestBody" in op or path.startswith(NOT_FOUND_PREFIXES):
                codes.append("404")  # the path or the body names something stored
            if "requestBody" in op:
                codes += ["409", "413", "415"]
            elif method == "delete":
                codes.append("409")  # e.g. revoking the key the request is made with
            own = OWN_ERROR_BODIES.get(op.get("operationId", ""), frozenset())
            for code in codes:
                if code not in own:
                    responses[code] = _problem(code, responses.get(code))
    return doc


def install_openapi(app: FastAPI) -> None:
    """Build the document once, amended."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = amend(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
