"""api.importer.upload: a multipart upload streamed to a temporary file, capped as it arrives.

The body is never held in memory nor spooled anywhere else: the file part is
written chunk by chunk into a directory the caller owns (and removes), under a
fixed name, and the upload stops with 413 the moment it passes the cap. Small
form fields (crs, on_error) are collected with their own small cap.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import Request

from api.errors import (
    BadRequest,
    InsufficientStorage,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from api.settings import Settings

log = logging.getLogger("onemap.import")

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 8
#: room for the multipart envelope and the small fields on top of the file's own cap
ENVELOPE_BYTES = 1024 * 1024


@dataclass(slots=True)
class Upload:
    """What arrived: the file (saved at `path`), its client-side name, and the other fields."""

    path: Path
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


def safe_filename(name: str) -> str:
    """The client's file name reduced to a harmless base name (for `source`, never a path)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in "\x00/")
    return cleaned[:200] or "upload"


#: errors of a full disk (or quota, or file size limit): the upload cannot be kept
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def upload_workspace(settings: Settings) -> Iterator[Path]:
    """A private temporary directory for one upload, removed afterwards whatever happens.

    It lives in ONEMAP_UPLOAD_DIR (default: the system's temp dir). A directory
    that cannot be made is a 503; a disk that fills up while the upload or the
    import writes is a 507. Either way nothing is imported and no file is left.
    """
    base = settings.upload_dir
    try:
        holder = tempfile.TemporaryDirectory(
            prefix="onemap-upload-", dir=base, ignore_cleanup_errors=True
        )
    except OSError as exc:
        log.error("upload directory %s unusable: %s", base or tempfile.gettempdir(), exc)
        if exc.errno in NO_SPACE:
            raise _no_space() from None
        raise ServiceUnavailable(
            "the server cannot store uploads right now (its temporary directory is not "
            "writable); nothing was imported",
            headers={"Retry-After": "60"},
        ) from None
    with holder as tmp:
        try:
            yield Path(tmp)
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            log.error("upload directory full: %s", exc)
            raise _no_space() from None


def _no_space() -> InsufficientStorage:
    return InsufficientStorage(
        "the server ran out of disk space while storing the upload; nothing was imported",
        headers={"Retry-After": "60"},
    )


class _Receiver:
    """Multipart callbacks: headers per part, the file part to disk, fields to memory."""

    def __init__(self, dest: Path, max_bytes: int) -> None:
        self.dest = dest
        self.max_bytes = max_bytes
        self.upload = Upload(dest)
        self.parts = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._out: IO[bytes] | None = None
        self._value = bytearray()
        self.got_file = False

    def callbacks(self) -> dict[str, object]:
        """The parser's callback table."""
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        """A new part: forget the previous one's headers."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise BadRequest(f"too many form parts (at most {MAX_PARTS})")
        self._headers = {}
        self._name = None
        self._is_file = False
        self._value = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        """Part of a header's name."""
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        """Part of a header's value."""
        self._header_value += data[start:end]
        if len(self._header_value) > 8192:
            raise BadRequest("a form part header is too long")

    def header_end(self) -> None:
        """One header complete."""
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = b""
        self._header_value = b""

    def headers_finished(self) -> None:
        """Decide what this part is from its Content-Disposition."""
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        if name == FILE_FIELD:
            if self.got_file:
                raise BadRequest("send one file per import")
            self.got_file = True
            self._is_file = True
            raw_name = options.get(b"filename", b"").decode("utf-8", "replace")
            self.upload.filename = safe_filename(raw_name)
            self._out = self.dest.open("wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        """Body bytes of the current part."""
        size = end - start
        if self._is_file:
            assert self._out is not None
            self.upload.size += size
            if self.upload.size > self.max_bytes:
                raise PayloadTooLarge(
                    f"the file is larger than {self.max_bytes} bytes (ONEMAP_MAX_UPLOAD_BYTES)"
                )
            self._out.write(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"form field {self._name!r} is too long")

    def part_end(self) -> None:
        """Close the file, or keep the field's value."""
        if self._is_file and self._out is not None:
            self._out.close()
            self._out = None
        elif self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace").strip()

    def close(self) -> None:
        """Release the file if the upload was cut short."""
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_upload(request: Request, dest: Path, max_bytes: int) -> Upload:
    """Stream a multipart/form-data body's `file` part to `dest` (at most max_bytes)."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UnsupportedMediaType(
            "send the file as multipart/form-data with a 'file' part (and optional 'crs', "
            "'on_error' fields)"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + ENVELOPE_BYTES:
        raise PayloadTooLarge(
            f"the upload is {declared} bytes; at most {max_bytes} are accepted "
            "(ONEMAP_MAX_UPLOAD_BYTES)"
        )
    receiver = _Receiver(dest, max_bytes)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())  # type: ignore[arg-type]
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes + ENVELOPE_BYTES:
                raise PayloadTooLarge(f"the upload is larger than {max_bytes} bytes")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from None
    finally:
        receiver.close()
    if not receiver.got_file:
        raise BadRequest(f"no '{FILE_FIELD}' part in the form")
    return receiver.upload
