"""api.routers.forms: the multipart request bodies the upload routes document (OpenAPI)."""

from __future__ import annotations

from typing import Any


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
