"""api.routers.replies: how the event POST routes answer a retry (201 new, 200 the same again)."""

from __future__ import annotations

from typing import Any

from fastapi import Response

#: the extra answer of the event POST routes: a retry (same code, same content)
REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"description": "the same record was created before from the same content (a "
                         "retry): the stored record with `unchanged: true`; nothing written"},
}  # fmt: skip


def created(out: dict[str, Any], response: Response) -> dict[str, Any]:
    """201 for a new record, 200 for a retry of one (`unchanged` in the body)."""
    if out.get("unchanged"):
        response.status_code = 200
    return out
