"""api.routers.imports: POST /layers/{layer}/import, a file upload into a layer (editor role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam

from api import audit
from api.db import unless_lost
from api.deps import Editor, PoolDep, SettingsDep
from api.editing import scope
from api.errors import BadRequest, NotFound
from api.importer import import_file, importable_names
from api.importer.upload import receive_upload, upload_workspace
from api.layers import event_layer_refusal, import_target
from api.routers.forms import file_form

router = APIRouter(tags=["import"])

_FORM = file_form(
    "GeoJSON, GeoPackage, zipped Shapefile, or CSV with "
    "lon/lat columns (the format is read from the content)",
    crs={
        "type": "string",
        "description": "the file's coordinate system when it does not say or "
        "says wrong: EPSG:4326, EPSG:4490, EPSG:4545, GCJ-02, BD-09, WKT, ...",
        "examples": ["GCJ-02"],
    },
    on_error={
        "type": "string",
        "enum": ["fail", "skip"],
        "default": "fail",
        "description": "fail: any bad row rejects the file; skip: load the "
        "good rows and report the bad ones",
    },
)


@router.post(
    "/layers/{layer}/import",
    operation_id="importLayer",
    summary="Import a file into a layer (upsert by code, all or nothing)",
    openapi_extra={"requestBody": _FORM},
    responses={
        400: {
            "description": "bad rows (listed by row and field), bad file or options, or an "
            "event layer (those come in through their own API or `onemap events import`)"
        },
        404: {"description": "no importable layer of that name"},
        413: {"description": "upload, zip entry count or unzipped size over the cap"},
        415: {"description": "not one of the accepted formats (decided by content)"},
    },
)
async def post_import(
    layer: Annotated[str, PathParam(max_length=64, examples=["risk_units"])],
    request: Request,
    editor: Editor,
    pool: PoolDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Stream the upload to a temporary file (size capped), import it, answer with the counts."""
    refusal = event_layer_refusal(layer)
    if refusal is not None:
        raise BadRequest(refusal)
    if import_target(layer) is None:
        raise NotFound(
            f"no importable layer {layer!r}; importable: {', '.join(importable_names())}"
        )
    with upload_workspace(settings) as tmp:
        upload = await receive_upload(request, tmp / "upload", settings.max_upload_bytes)
        on_error = upload.fields.get("on_error") or "fail"
        if on_error not in ("fail", "skip"):
            raise BadRequest("on_error must be 'fail' or 'skip'")
        crs = upload.fields.get("crs") or None
        async with pool.acquire() as conn, conn.transaction():
            await scope.enter(conn, editor, "import")  # RLS: only rows in the caller's scope
            result = await unless_lost(
                conn,
                import_file(
                    conn,
                    upload.path,
                    layer,
                    # the bulk path rebuilds indexes: the owner's, never a scoped import's
                    settings=settings
                    if editor.org is None
                    else settings.model_copy(update={"import_bulk_min_rows": 2**62}),
                    crs=crs,
                    source=f"import:{upload.filename}",
                    on_error="skip" if on_error == "skip" else "fail",
                ),
            )
            await audit.record(
                conn,
                editor,
                "layers.import",
                layer,
                [],
                file=upload.filename,
                bytes=upload.size,
                **result.counts(),
            )
    return {
        "layer": result.layer,
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "errors": result.errors,
        "total": result.total,
        "format": result.format,
        "crs": result.crs,
        "source": result.source,
        "ignored_columns": result.ignored_columns,
    }
