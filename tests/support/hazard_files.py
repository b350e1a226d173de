"""tests.support.hazard_files: evidence files (JPEG with EXIF GPS, PNG, PDF) and hostile ones."""

from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import rasterio
import rasterio.errors


def exif_gps(lon: float, lat: float) -> bytes:
    """A big-endian EXIF (TIFF) block whose GPS IFD holds the position (d/m/s rationals)."""

    def dms(value: float) -> bytes:
        v = abs(value)
        d = int(v)
        m = int((v - d) * 60)
        s = round(((v - d) * 60 - m) * 60 * 10000)
        return struct.pack(">6I", d, 1, m, 1, s, 10000)

    gps_ifd, data = 26, 26 + 2 + 4 * 12 + 4
    out = b"MM\x00\x2a" + struct.pack(">I", 8)
    out += struct.pack(">H", 1) + struct.pack(">HHII", 0x8825, 4, 1, gps_ifd) + b"\0\0\0\0"
    entries = [
        struct.pack(">HHI", 1, 2, 2) + (b"N" if lat >= 0 else b"S") + b"\0\0\0",
        struct.pack(">HHII", 2, 5, 3, data),
        struct.pack(">HHI", 3, 2, 2) + (b"E" if lon >= 0 else b"W") + b"\0\0\0",
        struct.pack(">HHII", 4, 5, 3, data + 24),
    ]
    out += struct.pack(">H", 4) + b"".join(entries) + b"\0\0\0\0"
    assert len(out) == data
    return out + dms(lat) + dms(lon)


def plain_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A real baseline JPEG (a colour gradient) written by GDAL."""
    y, x = np.mgrid[0:height, 0:width]
    bands = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)]).astype("uint8")
    with warnings.catch_warnings(), rasterio.MemoryFile() as mem:
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with mem.open(driver="JPEG", width=width, height=height, count=3, dtype="uint8") as dst:
            dst.write(bands)
        return mem.read()


def jpeg_with_gps(lon: float, lat: float, comment: bytes = b"secret camera serial") -> bytes:
    """A real JPEG carrying an EXIF APP1 with a GPS position and a COM segment."""
    jpeg = plain_jpeg()
    app1 = b"Exif\x00\x00" + exif_gps(lon, lat) + comment
    com = b"owner: " + comment
    return (jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
            + b"\xff\xfe" + struct.pack(">H", len(com) + 2) + com + jpeg[2:])  # fmt: skip


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(text: bytes = b"", exif: bytes = b"") -> bytes:
    """A real 2x2 grey PNG, with a tEXt and an eXIf chunk when given."""
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    raw = zlib.compress(b"\x00\x80\x80\x00\x80\x80")
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    if text:
        out += _chunk(b"tEXt", b"Comment\x00" + text)
    if exif:
        out += _chunk(b"eXIf", exif)
    return out + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")


def pdf(extra: bytes = b"") -> bytes:
    """A one-page PDF (hand-written objects; `extra` goes into the catalogue)."""
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R " + extra + b" >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")  # fmt: skip
