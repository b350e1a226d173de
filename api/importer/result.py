"""api.importer.result: what an import reports (counts and row errors) and its rejection error."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

from api.errors import BadRequest

#: at most this many row errors travel in a result or a 400 body (all are counted)
MAX_REPORTED_ERRORS = 1000


class RowError(TypedDict):
    """One problem with one row: its 1-based record number in the file, the field, why."""

    row: int
    field: str
    reason: str


def row_error(row: int, field: str, reason: str) -> RowError:
    """A RowError."""
    return {"row": int(row), "field": field, "reason": reason}


@dataclass(slots=True)
class ImportResult:
    """Counts of one import; `errors` lists the rejected rows' problems (first 1000)."""

    layer: str
    total: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    format: str = ""
    crs: str = ""
    source: str = ""
    ignored_columns: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return asdict(self)

    def counts(self) -> dict[str, int]:
        """What the import did to the rows (the audit line's figures)."""
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


class ImportRejected(BadRequest):
    """The file was refused and nothing was written; `errors` says which rows and why."""

    title = "Import rejected"

    def __init__(self, detail: str, errors: list[RowError], *, total: int, rejected: int) -> None:
        super().__init__(
            detail,
            errors=errors[:MAX_REPORTED_ERRORS],
            total=total,
            rejected=rejected,
            errors_truncated=len(errors) > MAX_REPORTED_ERRORS,
        )
        self.errors = errors
        self.total = total
        self.rejected = rejected
