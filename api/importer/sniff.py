"""api.importer.sniff: decide a file's format from its bytes, never from its name.

Only four formats get in: GeoJSON and CSV (parsed by onemap itself, no GDAL),
GeoPackage and zipped Shapefile (read by GDAL, each with one driver). Anything
else, in particular XML such as an OGR VRT (which would let GDAL open other
files or URLs), is refused with 415 whatever the file is called.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from api.errors import UnsupportedMediaType

Format = Literal["geojson", "csv", "gpkg", "shapefile_zip"]

ACCEPTED = "GeoJSON, GeoPackage, zipped Shapefile or CSV with lon/lat columns"
_HEAD = 64 * 1024

_ARCHIVES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def archive_kind(head: bytes) -> str | None:
    """The archive/compression format these leading bytes announce, if any."""
    if head.startswith(ZIP_MAGICS):
        return "zip"
    for magic, name in _ARCHIVES:
        if head.startswith(magic):
            return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def _refuse(what: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(f"{what}; onemap imports {ACCEPTED}")


def _text_start(head: bytes) -> str | None:
    """The first non-blank character of a text file (BOM skipped), None if not text."""
    if b"\x00" in head:
        return None
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    stripped = head.lstrip(b" \t\r\n")
    if not stripped:
        return ""
    return chr(stripped[0]) if stripped[0] < 0x80 else "\x80"


def sniff(path: Path) -> Format:
    """The format of the file at `path`; UnsupportedMediaType (415) for anything else."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    if not head:
        raise UnsupportedMediaType("the file is empty")
    if head.startswith(b"SQLite format 3\x00"):
        if len(head) >= 72 and head[68:72] in _GPKG_IDS:
            return "gpkg"
        raise _refuse("an SQLite database that is not a GeoPackage")
    kind = archive_kind(head)
    if kind == "zip":
        return "shapefile_zip"
    if kind is not None:
        raise _refuse(f"a {kind} archive")
    if head[:4] == b"\x00\x00\x27\x0a":
        raise _refuse("a bare .shp: zip it together with its .shx, .dbf and .prj")
    first = _text_start(head)
    if first is None:
        raise _refuse("a binary file of unknown type")
    if first == "<":
        raise _refuse("an XML document (GML, KML or an OGR VRT are not accepted)")
    if first == "{":
        return "geojson"
    if first == "[":
        raise _refuse("a JSON array, not a GeoJSON object")
    if first == "":
        raise UnsupportedMediaType("the file holds only blank space")
    return "csv"
