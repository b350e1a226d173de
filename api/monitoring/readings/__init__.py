"""api.monitoring.readings: monitoring readings in, alarms and liveness out (whole batches
idempotent).

A batch goes through one module per step, each named for its job:

- `parse`: codes, times and values from the JSON or CSV body;
- `check`: the whole batch checked (unknown point, naive or far-future time,
  non-finite value: 400 and nothing stored), sorted by point and time in numpy;
- `ingest`: one transaction (ledger, retries) that calls, in order,
  `partitions` (day partitions on demand), `store` (binary COPY, or staging on
  a conflict), `liveness` (last reading per point, 128 points a row) and
  `transitions` (offline periods and alarm periods); `batch` holds the types.

This package re-exports what callers use, so `readings.parse_json(...)`,
`readings.check_batch(...)` and `readings.ingest(...)` read as one API.
"""

from __future__ import annotations

from api.monitoring.points import PointCache
from api.monitoring.readings.batch import Batch, IngestResult
from api.monitoring.readings.check import EPOCH, US, UnknownPoints, batch_key, check, check_batch
from api.monitoring.readings.ingest import ingest
from api.monitoring.readings.liveness import BLOCK
from api.monitoring.readings.parse import Columns, parse_csv, parse_json
from api.monitoring.readings.partitions import ensure_partitions, forget_partitions
from api.monitoring.readings.store import copy_payload

__all__ = [
    "BLOCK",
    "EPOCH",
    "US",
    "Batch",
    "Columns",
    "IngestResult",
    "PointCache",
    "UnknownPoints",
    "batch_key",
    "check",
    "check_batch",
    "copy_payload",
    "ensure_partitions",
    "forget_partitions",
    "ingest",
    "parse_csv",
    "parse_json",
]
