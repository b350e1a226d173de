"""A full disk or a broken temporary directory during an import: 507/503, nothing stored or left.

ENOSPC is real: the upload directory (ONEMAP_UPLOAD_DIR) is a 64 KiB tmpfs
mounted for the test (root only, as `make test` runs; elsewhere it fails, never
skips), so the upload's write fails the way it does on a full disk.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support import files as F

SMALL_FS = "64k"


@contextlib.contextmanager
def tiny_filesystem(where: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs at `where`; fails (never skips) where mounting one is refused.

    `make test` runs as root, as the README asks; only a container without
    CAP_SYS_ADMIN refuses the mount, and then this test says so and fails.
    """
    where.mkdir()
    if os.getuid() != 0:
        pytest.fail("a real ENOSPC needs a 64 KiB tmpfs, which only root may mount: run as root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_FS},mode=1777", "tmpfs", str(where)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.fail(
            f"cannot mount a 64 KiB tmpfs for a real ENOSPC: {done.stderr.decode().strip()} "
            "(a container needs CAP_SYS_ADMIN)"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _broadcasts(n: int, tmp: Path) -> bytes:
    feats = [
        F.feature({"code": f"B{i:05d}", "name": f"broadcast {i}", "kind": "radio"},
                  {"type": "Point", "coordinates": [108.9 + i * 1e-5, 34.25]})
        for i in range(n)
    ]  # fmt: skip
    return F.geojson(tmp / f"b{n}.geojson", feats).read_bytes()


async def _count(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM broadcasts"))
    finally:
        await conn.close()


async def test_disk_full_during_upload_is_507_and_leaves_nothing(
    empty_db: Settings, tmp_path: Path
) -> None:
    """A file larger than the space left: 507 problem JSON, table unchanged, directory empty."""
    editor = (await role_headers(empty_db))["editor"]
    big = _broadcasts(3000, tmp_path)  # ~400 KB
    small = _broadcasts(3, tmp_path)
    assert len(big) > 64 * 1024
    with tiny_filesystem(tmp_path / "uploads") as uploads:
        settings = empty_db.model_copy(update={"upload_dir": uploads})
        async with app_client(settings, editor) as client:
            ok = await client.post("/layers/broadcasts/import",
                                   files={"file": ("s.geojson", small)})  # fmt: skip
            assert ok.status_code == 200, ok.text  # the directory works while there is room
            assert await _count(empty_db) == 3
            r = await client.post("/layers/broadcasts/import", files={"file": ("b.geojson", big)})
            assert r.status_code == 507, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert "disk space" in r.json()["detail"]
            assert "retry-after" in r.headers
            assert await _count(empty_db) == 3
            assert list(uploads.iterdir()) == []  # no partial upload left behind
            # space is back at once: the small file imports again (unchanged rows)
            again = await client.post("/layers/broadcasts/import",
                                      files={"file": ("s.geojson", small)})  # fmt: skip
            assert again.status_code == 200 and again.json()["unchanged"] == 3, again.text


async def test_unusable_temp_directory_is_503(empty_db: Settings, tmp_path: Path) -> None:
    """An upload directory that cannot be written (missing, or a file): 503, nothing stored."""
    editor = (await role_headers(empty_db))["editor"]
    afile = tmp_path / "not-a-directory"
    afile.write_text("x")
    small = _broadcasts(3, tmp_path)
    for broken in (tmp_path / "missing", afile):
        settings = empty_db.model_copy(update={"upload_dir": broken})
        async with app_client(settings, editor) as client:
            r = await client.post("/layers/broadcasts/import",
                                  files={"file": ("s.geojson", small)})  # fmt: skip
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "temporary directory" in r.json()["detail"]
        assert "retry-after" in r.headers
    assert await _count(empty_db) == 0
    assert sorted(os.listdir(tmp_path)) == ["b3.geojson", "not-a-directory"]
