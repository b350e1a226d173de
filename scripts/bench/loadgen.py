"""scripts.bench.loadgen: a small keep-alive HTTP/1.1 load generator for loopback servers only.

It costs a few tens of microseconds a request, so the server under test and
not the client sets the pace; every run is bounded by its list of paths and
by a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Run:
    """What one run measured."""

    requests: int = 0
    seconds: float = 0.0
    body_bytes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

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
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    run.body_bytes += size
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
                run.body_bytes += length
            run.statuses[status] += 1
            run.requests += 1
    finally:
        writer.close()


async def hammer(
    host: str,
    port: int,
    paths: Sequence[str],
    concurrency: int,
    headers: dict[str, str] | None = None,
    max_seconds: float = 60.0,
) -> Run:
    """GET every path once over `concurrency` keep-alive connections; loopback only."""
    if host not in LOOPBACK:
        raise ValueError("the load generator only targets this machine (127.0.0.1)")
    lines = [f"Host: {host}:{port}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    run = Run()
    cursor = [0]
    start = time.perf_counter()
    deadline = time.monotonic() + max_seconds
    await asyncio.gather(
        *(_worker(host, port, paths, cursor, raw, run, deadline) for _ in range(concurrency))
    )
    run.seconds = time.perf_counter() - start
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
