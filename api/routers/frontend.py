"""api.routers.frontend: the built MapLibre front end at `/` and its runtime settings at
`/ui/config`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.codes import frontend_codes
from api.deps import Reader, SettingsDep
from api.raster.surface import risk_surface_path
from api.settings import Settings

router = APIRouter(tags=["frontend"])

MISSING = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>onemap</title></head><body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>onemap</h1><p>The front end is not built. Build it with <code>make frontend</code>
(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload.</p>
<p>The API is up: <a href="docs">/docs</a>.</p></body></html>"""


def basemap(settings: Settings) -> dict[str, Any] | None:
    """The optional raster basemap (its key filled in), or None for the offline base."""
    if not settings.basemap_url:
        return None
    url = settings.basemap_url.replace("{key}", settings.basemap_key or "")
    return {"tiles": [url], "attribution": settings.basemap_attribution}


def content_security_policy(settings: Settings) -> str:
    """The page's Content-Security-Policy: scripts only from this origin, never inline.

    MapLibre runs its worker from a blob: URL and decodes tiles into blob: / data:
    images; the optional basemap's origin may be fetched and drawn; styles may be
    inline (the templates colour legend swatches with style attributes), scripts not.
    """
    extra = ""
    if settings.basemap_url:
        parts = urlsplit(settings.basemap_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            extra = f" {parts.scheme}://{parts.netloc}"
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        f"connect-src 'self'{extra}",
        f"img-src 'self' data: blob:{extra}",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))  # fmt: skip


@router.get("/ui/config", operation_id="uiConfig", summary="What the front end needs to start")
async def ui_config(who: Reader, settings: SettingsDep) -> dict[str, Any]:
    """The basemap (if any), whether the raster risk surface exists, the tile zoom range."""
    return {
        "basemap": basemap(settings),
        "risk_surface": risk_surface_path(settings).is_file(),
        "max_zoom": settings.tile_max_zoom,
        "city_bbox": list(settings.city_bbox),
        "user": {"name": who.name, "role": who.role.value},
        # levels' and categories' names and colours (api/codes.py): the front end's only copy
        "codes": frontend_codes(),
    }


def install_frontend(app: FastAPI, settings: Settings) -> None:
    """Serve frontend/dist at `/` (its assets under /assets); without a build, `/` says how."""
    dist = settings.frontend_dist
    index = dist / "index.html"
    headers = {
        "content-security-policy": content_security_policy(settings),
        "x-content-type-options": "nosniff",
    }

    @app.get("/", include_in_schema=False, response_model=None)
    async def home() -> Response:
        """The built page (revalidated on each visit: its assets carry content hashes)."""
        if index.is_file():
            return FileResponse(index, headers={"cache-control": "no-cache", **headers})
        return HTMLResponse(MISSING, headers=headers)

    # check_dir=False: a build made while the app runs is served without a restart
    assets = StaticFiles(directory=dist / "assets", check_dir=False)
    app.mount("/assets", assets, name="frontend-assets")
    app.include_router(router)
