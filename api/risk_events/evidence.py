"""api.risk_events.evidence: photos and documents attached to a step of the hidden-hazard loop.

An upload is hostile until proven otherwise: its type is sniffed from the bytes
(JPEG, PNG, PDF, nothing else, whatever the client says), its structure is walked
(JPEG segments, PNG chunks with their CRCs, a PDF's header and trailer), and what is
kept and served is a sanitised copy: the metadata segments and chunks (EXIF, XMP,
IPTC, text) are dropped, the photo's EXIF GPS position is read first and kept as
data. A PDF with active content (JavaScript, launch actions, embedded files) is
refused. Files live in PostgreSQL (bytea) keyed by their SHA-256 per hazard, and are
served with a fixed type, `nosniff` and a sandboxing CSP, never as something a
browser would run.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import asyncpg

from api.errors import BadRequest, NotFound, UnsupportedMediaType

#: the largest evidence file accepted (bytes)
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
#: the most evidence files one hazard may hold
MAX_PER_HAZARD = 50

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
#: JPEG APPn segments kept: JFIF (APP0), ICC profile (APP2), Adobe colour transform (APP14)
_JPEG_KEEP_APP = {0xE0, 0xE2, 0xEE}
#: PNG chunks dropped: EXIF and every kind of text and time stamp
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
#: PDF names that make a document act rather than show
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA|SubmitForm)\b")


@dataclass(slots=True)
class Clean:
    """A sanitised file: its served bytes, type, and the location its EXIF gave."""

    content: bytes
    media_type: str
    lon: float | None = None
    lat: float | None = None

    @property
    def sha256(self) -> str:
        """The content hash of the served bytes."""
        return hashlib.sha256(self.content).hexdigest()


def sniff(data: bytes) -> str:
    """The media type read from the first bytes (415 for anything but JPEG, PNG, PDF)."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == _PNG_SIG:
        return PNG
    if data[:5] == b"%PDF-":
        return PDF
    raise UnsupportedMediaType("evidence must be a JPEG or PNG photo or a PDF document "
                               "(decided by content, not by name)")  # fmt: skip


def sanitise(data: bytes) -> Clean:
    """The file checked and stripped of metadata (400 when its structure is broken)."""
    if not data:
        raise BadRequest("the evidence file is empty")
    kind = sniff(data)
    if kind == JPEG:
        return _jpeg(data)
    if kind == PNG:
        return _png(data)
    return _pdf(data)


def _jpeg(data: bytes) -> Clean:
    out = bytearray(b"\xff\xd8")
    pos, gps = 2, None
    n = len(data)
    while True:
        if pos + 2 > n or data[pos] != 0xFF:
            raise BadRequest("broken JPEG: a segment marker was expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            raise BadRequest("broken JPEG: the image ends before any scan")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[pos : pos + 2]
            pos += 2
            continue
        if pos + 4 > n:
            raise BadRequest("broken JPEG: truncated segment")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > n:
            raise BadRequest("broken JPEG: a segment runs past the end")
        segment = data[pos:end]
        if marker == 0xDA:  # start of scan: the entropy-coded data runs to EOI
            eoi = data.rfind(b"\xff\xd9")
            if eoi < end:
                raise BadRequest("broken JPEG: no end-of-image marker")
            out += data[pos : eoi + 2]  # whatever follows EOI is dropped
            break
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            if marker == 0xE1 and gps is None and segment[4:10] == b"Exif\x00\x00":
                gps = exif_gps(segment[10:])
            if marker not in _JPEG_KEEP_APP:
                pos = end
                continue
        out += segment
        pos = end
    lon, lat = gps if gps else (None, None)
    return Clean(bytes(out), JPEG, lon, lat)


def _png(data: bytes) -> Clean:
    out = bytearray(_PNG_SIG)
    pos, gps, first = 8, None, True
    n = len(data)
    while True:
        if pos + 12 > n:
            raise BadRequest("broken PNG: truncated chunk (no IEND)")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > n or end > n:
            raise BadRequest("broken PNG: a chunk runs past the end")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise BadRequest(f"broken PNG: bad CRC in chunk {ctype!r}")
        if first and ctype != b"IHDR":
            raise BadRequest("broken PNG: the first chunk is not IHDR")
        first = False
        if ctype == b"eXIf" and gps is None:
            gps = exif_gps(body)
        if ctype not in _PNG_DROP:
            out += data[pos:end]
        pos = end
        if ctype == b"IEND":
            break  # whatever follows IEND is dropped
    lon, lat = gps if gps else (None, None)
    return Clean(bytes(out), PNG, lon, lat)


def _pdf(data: bytes) -> Clean:
    if not re.match(rb"%PDF-[12]\.\d", data[:8]):
        raise BadRequest("broken PDF: no version header")
    if b"%%EOF" not in data[-1024:]:
        raise BadRequest("broken PDF: no %%EOF trailer")
    found = _PDF_ACTIVE.search(data)
    if found:
        name = found.group(1).decode()
        raise BadRequest(f"PDF with active content (/{name}) refused: send a plain document")
    return Clean(data, PDF)


def exif_gps(tiff: bytes) -> tuple[float, float] | None:
    """(lon, lat) from an EXIF (TIFF) block's GPS IFD; None when absent or malformed."""
    try:
        return _exif_gps(tiff)
    except (struct.error, ValueError, ZeroDivisionError, IndexError):
        return None


def _exif_gps(t: bytes) -> tuple[float, float] | None:
    order = {b"II": "<", b"MM": ">"}.get(t[:2])
    if order is None or struct.unpack(order + "H", t[2:4])[0] != 42:
        return None

    def entries(offset: int) -> dict[int, tuple[int, int, bytes]]:
        (count,) = struct.unpack(order + "H", t[offset : offset + 2])
        out = {}
        for i in range(min(count, 256)):
            at = offset + 2 + 12 * i
            tag, typ, num = struct.unpack(order + "HHI", t[at : at + 8])
            out[tag] = (typ, num, t[at + 8 : at + 12])
        return out

    (ifd0,) = struct.unpack(order + "I", t[4:8])
    gps_ptr = entries(ifd0).get(0x8825)
    if gps_ptr is None:
        return None
    gps = entries(struct.unpack(order + "I", gps_ptr[2])[0])

    def degrees(tag: int) -> float:
        typ, num, raw = gps[tag]
        if typ != 5 or num != 3:
            raise ValueError("GPS coordinate is not three rationals")
        (off,) = struct.unpack(order + "I", raw)
        vals = struct.unpack(order + "6I", t[off : off + 24])
        d, m, s = (vals[i] / vals[i + 1] for i in (0, 2, 4))
        return d + m / 60 + s / 3600

    def ref(tag: int) -> bytes:
        return gps[tag][2][:1] if tag in gps else b""

    if not all(tag in gps for tag in (2, 4)):
        return None
    lat, lon = degrees(2), degrees(4)
    lat = -lat if ref(1) == b"S" else lat
    lon = -lon if ref(3) == b"W" else lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lon, 7), round(lat, 7)


def evidence_url(code: str, sha256: str) -> str:
    """Where a file is served."""
    return f"/hidden-hazards/{code}/evidence/{sha256}"


async def store(
    conn: asyncpg.Connection, hazard: asyncpg.Record, clean: Clean, filename: str,
    who: str, org: str | None,
) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """Keep a file for the hazard (pending until a step names it); (its JSON, new?)."""
    count = await conn.fetchval(
        "SELECT count(*) FROM hidden_hazard_evidence WHERE hazard_id = $1", hazard["id"]
    )
    row = await conn.fetchrow(
        "INSERT INTO hidden_hazard_evidence (hazard_id, sha256, media_type, size, content, "
        "filename, exif_lon, exif_lat, uploaded_by, uploaded_org) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (hazard_id, sha256) DO NOTHING RETURNING id",
        hazard["id"], clean.sha256, clean.media_type, len(clean.content), clean.content,
        filename, clean.lon, clean.lat, who, org,
    )  # fmt: skip
    if row is not None and count >= MAX_PER_HAZARD:
        raise BadRequest(f"a hidden hazard holds at most {MAX_PER_HAZARD} evidence files")
    listed = await listing(conn, hazard["id"], hazard["code"], sha256=clean.sha256)
    return listed[0], row is not None


async def attach(
    conn: asyncpg.Connection, hazard_id: int, event_id: int, hashes: list[str]
) -> None:
    """Name pending files of the hazard as the evidence of one step (400 for unknown ones)."""
    if not hashes:
        return
    done = await conn.fetch(
        "UPDATE hidden_hazard_evidence SET event_id = $2 "
        "WHERE hazard_id = $1 AND sha256 = ANY($3::text[]) AND event_id IS NULL RETURNING sha256",
        hazard_id, event_id, hashes,
    )  # fmt: skip
    missing = sorted(set(hashes) - {r["sha256"] for r in done})
    if missing:
        raise BadRequest(
            "evidence not uploaded to this hazard, or already attached to a step: "
            + ", ".join(missing),
            field="evidence",
        )


async def listing(
    conn: asyncpg.Connection, hazard_id: int, code: str, sha256: str | None = None
) -> list[dict[str, Any]]:
    """The hazard's evidence (without the bytes), oldest first, with the step it belongs to."""
    rows = await conn.fetch(
        "SELECT e.sha256, e.media_type, e.size, e.filename, e.exif_lon, e.exif_lat, "
        "e.uploaded_by, e.uploaded_org, e.uploaded_at, ev.to_status AS step, ev.at AS step_at "
        "FROM hidden_hazard_evidence e LEFT JOIN hidden_hazard_events ev ON ev.id = e.event_id "
        "WHERE e.hazard_id = $1 AND ($2::text IS NULL OR e.sha256 = $2) ORDER BY e.id",
        hazard_id, sha256,
    )  # fmt: skip
    return [
        {
            "sha256": r["sha256"], "media_type": r["media_type"], "size": r["size"],
            "filename": r["filename"], "uploaded_by": r["uploaded_by"],
            "uploaded_org": r["uploaded_org"], "uploaded_at": r["uploaded_at"].isoformat(),
            "location": None if r["exif_lon"] is None else {"lon": r["exif_lon"],
                                                           "lat": r["exif_lat"]},
            "step": r["step"], "step_at": r["step_at"].isoformat() if r["step_at"] else None,
            "url": evidence_url(code, r["sha256"]),
        }
        for r in rows
    ]  # fmt: skip


async def content(conn: asyncpg.Connection, code: str, sha256: str) -> asyncpg.Record:
    """The stored bytes and type of one file (404 otherwise)."""
    row = await conn.fetchrow(
        "SELECT e.content, e.media_type, e.filename FROM hidden_hazard_evidence e "
        "JOIN hidden_hazards h ON h.id = e.hazard_id WHERE h.code = $1 AND e.sha256 = $2",
        code, sha256,
    )  # fmt: skip
    if row is None:
        raise NotFound(f"no evidence {sha256} on hidden hazard {code!r}")
    return row
