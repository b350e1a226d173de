"""tests.support.browser: the Python side of the browser tests (frontend/tests/*.mjs).

Each script runs under node with playwright-core driving Debian's chromium (installed
with scripts/ensure-packages when missing; a test fails, never skips, without it)
against a live server, and prints `RESULT {json}` last (frontend/tests/harness.mjs).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from api.settings import PROJECT_ROOT, Settings
from tests.support import tools
from tests.support.liveserver import live_server

CHROMIUM = "/usr/bin/chromium"


def ensure_browser() -> None:
    """Debian's chromium (and a CJK font for the labels), installed when missing; node."""
    assert tools.require("chromium", "chromium") == CHROMIUM
    subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "ensure-packages"), "fonts-wqy-microhei"],
        check=False, timeout=900,
    )  # fmt: skip
    tools.require("node", "nodejs")
    tools.require("npm", "npm")


def build_frontend() -> None:
    """`make frontend`: npm ci + vite build, each only when its inputs changed."""
    out = subprocess.run(
        ["make", "-s", "frontend"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def run_script(
    script: str,
    base: str,
    inputs: dict[str, Any] | None = None,
    shots: Path | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run frontend/tests/<script> against the server at `base`, each input as
    `ONEMAP_<NAME>` (JSON); it must exit 0; its RESULT."""
    env = {**os.environ, "ONEMAP_BASE_URL": base, "CHROMIUM": CHROMIUM}
    env.update({f"ONEMAP_{name}": json.dumps(value) for name, value in (inputs or {}).items()})
    if shots is not None:
        env["ONEMAP_SCREENSHOTS"] = str(shots)
    run = subprocess.run(
        ["node", f"tests/{script}"], cwd=PROJECT_ROOT / "frontend", env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    result: dict[str, Any] = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    return result


def _against_live_server(settings: Settings, script: str, **kw: Any) -> dict[str, Any]:
    with live_server(settings) as base:
        assert httpx.get(f"{base}/").status_code == 200
        return run_script(script, base, **kw)


async def run_against(
    settings: Settings,
    script: str,
    inputs: dict[str, Any] | None = None,
    shots: Path | None = None,
    limit_s: float = 600,
) -> dict[str, Any]:
    """Build the front end, start a live server on the settings' database, run the script
    against it (at most `limit_s`, in a thread: the event loop stays free); its RESULT."""
    ensure_browser()
    build_frontend()
    return await asyncio.to_thread(
        _against_live_server, settings, script, inputs=inputs, shots=shots, timeout=limit_s
    )
