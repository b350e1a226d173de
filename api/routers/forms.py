"""api.routers.forms: the multipart request bodies the upload routes document (OpenAPI)."""

from __future__ import annotations

from typing import Any

from api.risk_events.evidence import MAX_EVIDENCE_BYTES


def file_form(description: str, **fields: dict[str, Any]) -> dict[str, Any]:
    """A required multipart/form-data body: a binary `file` described so, then `fields`."""
    file = {"type": "string", "format": "binary", "description": description}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": file, **fields},
                }
            }
        },
    }


#: the file of an evidence upload (hidden hazards, tasks, assessment items)
EVIDENCE_FILE = (
    "a JPEG or PNG photo or a PDF document (type read "
    f"from the content; at most {MAX_EVIDENCE_BYTES} bytes)"
)


def evidence_responses(owner: str) -> dict[int | str, dict[str, Any]]:
    """The documented answers of an evidence upload to one `owner` (a hazard, a task, …)."""
    return {
        200: {"description": f"the same file was uploaded to this {owner} before"},
        400: {"description": "a broken file, or a PDF with active content"},
        404: {"description": f"no such {owner}"},
        413: {"description": "larger than the cap"},
        415: {"description": "not JPEG, PNG or PDF (decided by content)"},
    }
