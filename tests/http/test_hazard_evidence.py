"""Evidence of the hidden-hazard loop: real photos and documents in, sanitised copies out,
the EXIF location kept as data; hostile uploads refused with nothing stored."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import pytest

from api.risk_events import evidence
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.http.test_hazard_loop import report, seed
from tests.support import hazard_files as HF

LON, LAT = 108.9012345, 34.2054321


def upload(name: str, data: bytes, ctype: str = "application/octet-stream") -> dict[str, Any]:
    """The multipart `files` of one evidence upload."""
    return {"file": (name, data, ctype)}


async def stored(settings: Settings) -> list[tuple[str, str]]:
    """(sha256, media type) of every stored evidence file."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("SELECT sha256, media_type FROM hidden_hazard_evidence ORDER BY id")
        return [(r["sha256"], r["media_type"]) for r in rows]
    finally:
        await conn.close()


def test_exif_gps_reads_what_was_written() -> None:
    """The GPS IFD round-trips to 1e-6 degrees; south and west are negative."""
    lon, lat = evidence.exif_gps(HF.exif_gps(LON, LAT)) or (0, 0)
    assert abs(lon - LON) < 1e-6 and abs(lat - LAT) < 1e-6
    assert evidence.exif_gps(HF.exif_gps(-70.5, -33.25)) == (-70.5, -33.25)
    assert evidence.exif_gps(b"MM\x00\x2a\x00\x00\x00\x08\x00") is None  # truncated IFD
    assert evidence.exif_gps(b"not a tiff") is None


async def test_photo_evidence_through_the_loop(empty_db: Settings) -> None:
    """A JPEG with EXIF GPS: location kept, EXIF and comments stripped from what is served,
    attached to the rectify step, listed with the hazard; a PNG and a PDF likewise."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    photo = HF.jpeg_with_gps(LON, LAT)
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "HE", risk_unit="IN")
        r = await client.post("/hidden-hazards/HE/evidence", files=upload("../../x.jpg", photo))
        assert r.status_code == 201, r.text
        got = r.json()
        assert got["media_type"] == "image/jpeg" and got["filename"] == "x.jpg"
        assert got["step"] is None  # pending until a step names it
        assert abs(got["location"]["lon"] - LON) < 1e-6 and abs(got["location"]["lat"] - LAT) < 1e-6
        served = await client.get(got["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        body = served.content
        assert hashlib.sha256(body).hexdigest() == got["sha256"] == got["url"].rsplit("/", 1)[1]
        assert body[:2] == b"\xff\xd8" and body.endswith(b"\xff\xd9")
        assert b"Exif" not in body and b"secret camera serial" not in body
        assert len(body) == got["size"] < len(photo)
        assert body[2:] in HF.plain_jpeg()  # the image data itself is untouched
        again = await client.post("/hidden-hazards/HE/evidence", files=upload("y.jpg", photo))
        assert again.status_code == 200 and again.json()["sha256"] == got["sha256"]

        png = HF.png(text=b"GPS: home address", exif=HF.exif_gps(LON, LAT))
        p = await client.post("/hidden-hazards/HE/evidence", files=upload("p.png", png))
        assert p.status_code == 201 and p.json()["location"] is not None, p.text
        png_body = (await client.get(p.json()["url"])).content
        assert b"home address" not in png_body and b"eXIf" not in png_body
        assert png_body == HF.png()
        d = await client.post("/hidden-hazards/HE/evidence", files=upload("r.pdf", HF.pdf()))
        assert d.status_code == 201 and d.json()["media_type"] == "application/pdf"
        served_pdf = await client.get(d.json()["url"])
        assert served_pdf.headers["content-disposition"].startswith("attachment")

        await client.post("/hidden-hazards/HE/assign", json={"assignee": "crew"})
        r = await client.post(
            "/hidden-hazards/HE/rectify",
            json={"note": "valve replaced", "evidence": [got["sha256"], p.json()["sha256"]]},
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["events"][-1]["evidence"] == [got["sha256"], p.json()["sha256"]]
        assert [(e["sha256"], e["step"]) for e in out["evidence"]] == [
            (got["sha256"], "rectifying"), (p.json()["sha256"], "rectifying"),
            (d.json()["sha256"], None)]  # fmt: skip
        assert out["evidence_count"] == 3
        # a file already attached, or never uploaded: 400 and the step is not taken
        for sha in (got["sha256"], "0" * 64):
            r = await client.post("/hidden-hazards/HE/verify", headers=headers["admin"],
                                  json={"evidence": [sha]})  # fmt: skip
            assert r.status_code == 400 and r.json()["field"] == "evidence", r.text
        after = (await client.get("/hidden-hazards/HE")).json()
        assert after["status"] == "rectifying" and len(after["events"]) == 3
        assert (await client.get("/hidden-hazards/HE/evidence/" + "a" * 64)).status_code == 404
        assert (await client.get("/hidden-hazards/HE/evidence/nothex")).status_code == 400
        viewer = await client.get(got["url"], headers=headers["viewer"])
        assert viewer.status_code == 200
        denied = await client.post("/hidden-hazards/HE/evidence", headers=headers["viewer"],
                                   files=upload("x.jpg", photo))  # fmt: skip
        assert denied.status_code == 403


HOSTILE = [
    ("page.jpg", b"<html><script>alert(1)</script></html>", 415),
    ("pic.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 415),
    ("run.png", b"MZ\x90\x00" + b"\x00" * 200, 415),
    ("empty.jpg", b"", 400),
    ("cut.jpg", HF.plain_jpeg()[:300], 400),
    ("nosos.jpg", b"\xff\xd8\xff\xe0\x00\x04ab\xff\xd9", 400),
    ("badcrc.png", HF.png()[:-1] + b"\x00", 400),
    ("noiend.png", HF.png()[:-12], 400),
    ("js.pdf", HF.pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"), 400),
    ("launch.pdf", HF.pdf(b"/OpenAction << /S /Launch /F (cmd.exe) >>"), 400),
    ("notail.pdf", HF.pdf()[:-7], 400),
]


@pytest.mark.parametrize(("name", "data", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_evidence_is_refused(
    empty_db: Settings, name: str, data: bytes, status: int
) -> None:
    """Not a photo or a plain document (by content), or broken: 4xx problem, nothing stored."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "HX", risk_unit="IN")
        r = await client.post("/hidden-hazards/HX/evidence",
                              files=upload(name, data, "image/jpeg"))  # fmt: skip
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
    assert await stored(empty_db) == []


async def test_evidence_caps_and_envelope(empty_db: Settings, monkeypatch: Any) -> None:
    """Over the size cap: 413; not multipart, or no file part: 415/400; an unknown hazard:
    404; bytes after the image's end are dropped (no polyglot served)."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    monkeypatch.setattr(evidence, "MAX_EVIDENCE_BYTES", 4096)
    async with app_client(empty_db, headers["editor"]) as client:
        await report(client, "HC", risk_unit="IN")
        big = HF.png() + b"\x00" * 5000
        r = await client.post("/hidden-hazards/HC/evidence", files=upload("big.png", big))
        assert r.status_code == 413, r.text
        r = await client.post("/hidden-hazards/HC/evidence", content=HF.png(),
                              headers={"content-type": "image/png"})  # fmt: skip
        assert r.status_code == 415
        r = await client.post("/hidden-hazards/HC/evidence", data={"note": "x"},
                              files={"other": ("a.png", HF.png(), "image/png")})  # fmt: skip
        assert r.status_code == 400
        r = await client.post("/hidden-hazards/NOPE/evidence", files=upload("a.png", HF.png()))
        assert r.status_code == 404
        assert await stored(empty_db) == []
        polyglot = HF.png() + b"<script>alert(1)</script>"
        r = await client.post("/hidden-hazards/HC/evidence", files=upload("a.png", polyglot))
        assert r.status_code == 201, r.text
        assert (await client.get(r.json()["url"])).content == HF.png()
    assert await stored(empty_db) == [(hashlib.sha256(HF.png()).hexdigest(), "image/png")]
