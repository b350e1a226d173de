"""api.timestamps: the wall clock (`utcnow`) and date-times in request bodies (RFC 3339 text).

Pydantic's lax mode would also take a number (seconds since 1970) for a
date-time, which the OpenAPI document does not allow and no client means:
`{"as_of": 50920}` would grade the city as of 1970. `Timestamp` takes text only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator


def utcnow() -> datetime:
    """The wall clock (the service's only reader of it; the grading model never reads it)."""
    return datetime.now(UTC)


def _text_only(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "tzinfo"):  # already a datetime (Python callers)
        return value
    raise ValueError("must be an RFC 3339 date-time string with a UTC offset")


#: an aware date-time given as RFC 3339 text
Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_only)]
