"""api.importer.archive: a zipped Shapefile, inspected before anything is extracted.

Checked from the central directory first: entry count, declared uncompressed
size, names (no absolute paths, no `..`, no symlinks, no encryption), no nested
archives. Then only the parts of the one shapefile are extracted, under fixed
names of our own (data.shp, data.dbf, ...), counting the bytes actually written
so a zip that lies about its sizes is stopped too.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from api.importer.sniff import archive_kind
from api.settings import Settings

#: the parts of a shapefile that are read; .shp, .shx and .dbf are required
PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
REQUIRED = (".shp", ".shx", ".dbf")
ARCHIVE_SUFFIXES = frozenset(
    {".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".kmz", ".jar"}
)
_CHUNK = 1024 * 1024
#: what each part must start with: GDAL picks its driver by content, so a "p.shp" that is
#: an OGR VRT (or anything else) would be opened as that; refuse it before GDAL sees it
SHAPE_MAGIC = b"\x00\x00\x27\x0a"
DBF_VERSIONS = frozenset(
    {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0x8E, 0xCB, 0xF5, 0xFB}
)


def _check_magic(suffix: str, name: str, head: bytes) -> None:
    """A .shp/.shx starts with the shapefile code 9994, a .dbf with a dBase version byte."""
    if suffix in (".shp", ".shx") and not head.startswith(SHAPE_MAGIC):
        raise UnsupportedMediaType(f"zip entry {name[:120]!r} is not a shapefile {suffix} part")
    if suffix == ".dbf" and (not head or head[0] not in DBF_VERSIONS):
        raise UnsupportedMediaType(f"zip entry {name[:120]!r} is not a dBase table")


def _check_name(name: str) -> PurePosixPath:
    """The entry's path, refused when it is absolute or climbs out of the archive."""
    norm = name.replace("\\", "/")
    if "\x00" in norm or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise BadRequest(f"zip entry {name[:120]!r} has an absolute path")
    path = PurePosixPath(norm)
    if ".." in path.parts:
        raise BadRequest(f"zip entry {name[:120]!r} climbs out of the archive (path traversal)")
    return path


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _shapefile_parts(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The parts (by suffix) of the single shapefile the archive holds."""
    groups: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for info in infos:
        path = _check_name(info.filename)
        if info.is_dir():
            continue
        if _is_symlink(info):
            raise BadRequest(f"zip entry {info.filename[:120]!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise BadRequest(f"zip entry {info.filename[:120]!r} is encrypted")
        suffix = path.suffix.lower()
        if suffix in ARCHIVE_SUFFIXES:
            raise BadRequest(f"zip entry {info.filename[:120]!r} is an archive: no nested archives")
        if path.parts[0] == "__MACOSX" or path.name.startswith("._"):
            continue
        if suffix in PARTS:
            stem = str(path.with_suffix("")).lower()
            groups.setdefault(stem, {})[suffix] = info
    shapes = {stem: parts for stem, parts in groups.items() if ".shp" in parts}
    if not shapes:
        raise UnsupportedMediaType(
            "the zip holds no shapefile (.shp): onemap imports zipped "
            "Shapefiles; send GeoJSON, GeoPackage or CSV unzipped"
        )
    if len(shapes) > 1:
        names = ", ".join(sorted(shapes))[:300]
        raise BadRequest(f"the zip holds {len(shapes)} shapefiles ({names}): send one at a time")
    parts = next(iter(shapes.values()))
    missing = [s for s in REQUIRED if s not in parts]
    if missing:
        raise BadRequest(f"the shapefile lacks its {', '.join(missing)} part(s)")
    return parts


def extract_shapefile(archive: Path, dest: Path, settings: Settings) -> Path:
    """Check the zip, extract its one shapefile into `dest` as data.*, return data.shp."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadRequest(f"not a readable zip archive: {exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > settings.max_zip_entries:
            raise PayloadTooLarge(
                f"the zip has {len(infos)} entries; at most {settings.max_zip_entries} are accepted"
            )
        declared = sum(i.file_size for i in infos)
        if declared > settings.max_unzipped_bytes:
            raise PayloadTooLarge(
                f"the zip would unpack to {declared} bytes; at most "
                f"{settings.max_unzipped_bytes} are accepted"
            )
        parts = _shapefile_parts(infos)
        written = 0
        for suffix, info in parts.items():
            target = dest / f"data{suffix}"
            try:
                with zf.open(info) as src, target.open("wb") as out:
                    first = True
                    while chunk := src.read(_CHUNK):
                        if first and archive_kind(chunk) is not None:
                            raise BadRequest(
                                f"zip entry {info.filename[:120]!r} is itself an archive: "
                                "no nested archives"
                            )
                        if first:
                            _check_magic(suffix, info.filename, chunk)
                        first = False
                        written += len(chunk)
                        if written > settings.max_unzipped_bytes:
                            raise PayloadTooLarge(
                                "the zip unpacks to more than "
                                f"{settings.max_unzipped_bytes} bytes (its sizes were understated)"
                            )
                        out.write(chunk)
                    if first:  # an empty part
                        _check_magic(suffix, info.filename, b"")
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, zlib.error) as exc:
                raise BadRequest(
                    f"zip entry {info.filename[:120]!r} is unreadable: {exc}"
                ) from None
    return dest / "data.shp"
