"""Schemathesis over the whole OpenAPI document, in-process, with a fixed seed.

Every operation of `app.openapi()` gets generated requests (valid and invalid
ones) with the admin key on a throwaway database holding the small fixture city
(tests/fixtures/queries_city.sql: every layer has rows, a regrade takes moments). Each response
must not be a 5xx, must have a documented status and content type, must match
its documented schema, and invalid data must be refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import shutdown_lifespans

from api.main import create_app
from api.settings import Settings
from tests.city import load_city
from tests.conftest import role_headers
from tests.routing_grid import load_grid_roads

#: examples per operation and generation mode (positive, negative)
EXAMPLES = 15
#: fewer for operations that are slow by design (password hashing, raster statistics, TMS)
FEWER = {
    "POST /admin/users": 5,
    "POST /auth/token": 5,
    "POST /raster/risk/statistics": 5,
    "POST /raster/population/statistics": 5,
    "GET /raster/risk/tiles/{tileMatrixSetId}": 5,
    "GET /raster/population/tiles/{tileMatrixSetId}": 5,
    "POST /grading/run": 8,
}
SEED = 20_251_129
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
#: operations that stream forever (SSE): exercised with a short read, not fuzzed for bodies
STREAMING = {"GET /events/grades"}


@pytest.fixture
def api_schema(empty_db: Settings) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app's own OpenAPI document, served in-process by a lifespan-started app."""
    asyncio.run(load_city(empty_db))
    asyncio.run(load_grid_roads(empty_db))
    headers = asyncio.run(role_headers(empty_db))["admin"]
    settings = empty_db.model_copy(update={"grading_interval_s": 0, "statement_timeout_ms": 5000})
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield schema, headers
    finally:
        shutdown_lifespans()


def _fuzz(
    strategy: Any,
    negative: bool,
    label: str,
    headers: dict[str, str],
    calls: Counter[str],
    failures: list[str],
) -> None:
    """Run one operation's examples; failures are collected, not raised one by one."""

    @seed(SEED)
    @settings(
        max_examples=FEWER.get(label, EXAMPLES),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        calls[label] += 1
        try:
            response = case.call(headers=dict(headers))
            case.validate_response(response, checks=CHECKS, headers=dict(headers))
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(_summary(label, exc))

    try:
        run()
    except Unsatisfiable:
        # nothing to get wrong: an operation without parameters has no negative cases
        if negative and calls[label]:
            return
        raise


def _summary(label: str, exc: BaseException) -> str:
    """One line per distinct failure: the operation, the check and what was received."""
    text = str(exc)
    found = re.findall(r"(ST\d+ [^\n]+|Received: [^\n]+|\[\d{3}\] [^\n]+|curl [^\n]+)", text)
    if not found:
        return f"{label}: {type(exc).__name__}: {text[:300]}"
    return f"{label}: " + " | ".join(found[:4])


def _label(op: Any) -> str:
    return f"{op.method.upper()} {op.path}"


@pytest.mark.slow
def test_every_operation_survives_generated_requests(
    api_schema: tuple[Any, dict[str, str]],
) -> None:
    """No 5xx; documented statuses, media types and schemas; bad data refused."""
    schema, headers = api_schema
    calls: Counter[str] = Counter()
    failures: list[str] = []
    spent: dict[str, float] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60
    for op in operations:
        label = _label(op)
        if label in STREAMING:
            continue
        started = time.perf_counter()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(
                op.as_strategy(generation_mode=mode),
                mode is GenerationMode.NEGATIVE,
                label,
                headers,
                calls,
                failures,
            )
        spent[label] = time.perf_counter() - started
    slowest = sorted(spent.items(), key=lambda kv: -kv[1])[:12]
    print("slowest operations (s):", [(k, round(v, 1)) for k, v in slowest])  # noqa: T201
    missing = [
        _label(op) for op in operations if _label(op) not in STREAMING and not calls[_label(op)]
    ]
    assert not missing, missing
    distinct = sorted(set(failures))
    for line in distinct:
        print("FAILURE", line)  # noqa: T201
    assert not distinct, f"{len(distinct)} distinct failures:\n" + "\n".join(distinct[:80])
