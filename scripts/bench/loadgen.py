"""scripts.bench.loadgen: a small keep-alive HTTP/1.1 load generator for loopback servers only.

It costs a few tens of microseconds a request, so the server under test and
not the client sets the pace; every run is bounded by its list of paths and
by a deadline. Every answer is checked: its status must be one the caller
expects and its body must pass the caller's check (a tile is an MVT, a
document is JSON, ...); one that does not fails the run (`UnexpectedResponse`),
so an error can never be counted as throughput.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: (path, status, body) -> None when the answer is right, else what is wrong with it
Check = Callable[[str, int, bytes], str | None]


class UnexpectedResponse(RuntimeError):
    """A load run got an answer it did not expect: the figures of that run mean nothing."""


def expect_status(statuses: Collection[int] = (200,)) -> Check:
    """A check that accepts these statuses with any body."""

    def check(path: str, status: int, body: bytes) -> str | None:
        return None if status in statuses else f"HTTP {status}: {body[:200]!r}"

    return check


def mvt_check(path: str, status: int, body: bytes) -> str | None:
    """A tile: 200 with a Mapbox Vector Tile (a layer message first), or 204 (empty)."""
    if status == 204 and not body:
        return None
    if status == 200 and body[:1] == b"\x1a":
        return None
    if status == 200 and not body:  # tipg answers an empty tile 200 with no body
        return None
    return f"HTTP {status}, not a vector tile: {body[:120]!r}"


def json_check(path: str, status: int, body: bytes) -> str | None:
    """A 200 JSON document (an object)."""
    if status == 200 and body[:1] == b"{":
        return None
    return f"HTTP {status}, not a JSON object: {body[:200]!r}"


@dataclass
class Run:
    """What one run measured."""

    requests: int = 0
    seconds: float = 0.0
    body_bytes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    #: answers that failed their check, and the first few of them
    unexpected: int = 0
    examples: list[str] = field(default_factory=list)

    def verify(self, path: str, status: int, body: bytes, check: Check) -> None:
        """Count the answer; remember it when it is not what the check expects."""
        self.statuses[status] += 1
        self.requests += 1
        wrong = check(path, status, body)
        if wrong is not None:
            self.unexpected += 1
            if len(self.examples) < 5:
                self.examples.append(f"{path}: {wrong}")

    def raise_unexpected(self) -> None:
        """Fail when any answer was unexpected."""
        if self.unexpected:
            raise UnexpectedResponse(
                f"{self.unexpected} of {self.requests} answers unexpected, e.g.\n  "
                + "\n  ".join(self.examples)
            )

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


async def _worker(
    host: str,
    port: int,
    paths: Sequence[str],
    cursor: list[int],
    headers: bytes,
    run: Run,
    deadline: float,
    check: Check,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while cursor[0] < len(paths) and time.monotonic() < deadline:
            path = paths[cursor[0]]
            cursor[0] += 1
            writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + headers)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lname = name.lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            body = b""
            if chunked:
                parts = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    parts.append((await reader.readexactly(size + 2))[:-2])
                    if size == 0:
                        break
                body = b"".join(parts)
            elif length:
                body = await reader.readexactly(length)
            run.body_bytes += len(body)
            run.verify(path, status, body, check)
    finally:
        writer.close()


async def hammer(
    host: str,
    port: int,
    paths: Sequence[str],
    concurrency: int,
    headers: dict[str, str] | None = None,
    max_seconds: float = 60.0,
    check: Check | None = None,
) -> Run:
    """GET every path once over `concurrency` keep-alive connections; loopback only.

    Every answer goes through `check` (default: 200 only); any that fails it fails
    the run with UnexpectedResponse.
    """
    if host not in LOOPBACK:
        raise ValueError("the load generator only targets this machine (127.0.0.1)")
    lines = [f"Host: {host}:{port}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    run = Run()
    cursor = [0]
    start = time.perf_counter()
    deadline = time.monotonic() + max_seconds
    verify = check or expect_status((200,))
    await asyncio.gather(
        *(
            _worker(host, port, paths, cursor, raw, run, deadline, verify)
            for _ in range(concurrency)
        )
    )
    run.seconds = time.perf_counter() - start
    run.raise_unexpected()
    return run


class Connection:
    """One keep-alive HTTP/1.1 connection to a loopback server: request, read the whole answer."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        if host not in LOOPBACK:
            raise ValueError("the load generator only targets this machine (127.0.0.1)")
        self.host, self.port = host, port
        lines = [f"Host: {host}:{port}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._headers = "\r\n".join(lines).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._writer is not None:
            self._writer.close()

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """Send one request; (status, body)."""
        assert self._reader is not None and self._writer is not None
        head = method.encode() + b" " + path.encode() + b" HTTP/1.1\r\n" + self._headers
        if method in ("POST", "PUT", "PATCH"):
            head += (f"\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}").encode()
        self._writer.write(head + b"\r\n\r\n" + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length, chunked = 0, False
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self._reader.readexactly(length) if length else b""
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append((await self._reader.readexactly(size + 2))[:-2])
            if size == 0:
                return status, b"".join(parts)
