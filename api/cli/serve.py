"""api.cli.serve: `onemap serve` runs the API with uvicorn (workers keep TCP_NODELAY)."""

from __future__ import annotations

import inspect
import socket
from typing import Any

import typer
import uvicorn
from uvicorn.supervisors import Multiprocess

from api.cli import app


class NoDelayConfig(uvicorn.Config):
    """uvicorn's Config, but the shared listening socket says it is TCP.

    With `--workers N` uvicorn binds the socket in the supervisor with
    `proto` 0; accepted sockets inherit it and the event loop only sets
    TCP_NODELAY when `proto == IPPROTO_TCP`, so Nagle's algorithm meets the
    client's delayed ACK and every reused connection waits ~40 ms
    (Kludex/uvicorn#3149). Re-opening the descriptor lets the kernel report
    the real protocol.
    """

    def bind_socket(self) -> socket.socket:
        """Bind as uvicorn does, then re-wrap the descriptor with its true protocol."""
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, sock.detach())
            tcp.set_inheritable(True)
            return tcp
        return sock


#: seconds a worker may take to start and to answer the supervisor's health ping; uvicorn's
#: default (5 s) kills and restarts, in a loop, workers still importing on a busy machine
WORKER_HEALTHCHECK_S = 60


def healthcheck_option() -> dict[str, Any]:
    """uvicorn's worker health-check timeout, where this uvicorn has one (0.36+)."""
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config.__init__).parameters:
        return {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_S}
    return {}


def run_server(config: NoDelayConfig) -> None:
    """Serve with one process, or with a supervisor and `config.workers` processes."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, help="worker processes"),
    access_log: bool = typer.Option(True, help="log every request"),
    loop: str = typer.Option("auto", help="event loop: auto (uvloop when installed), asyncio"),
) -> None:
    """Serve the API and the map on http://HOST:PORT."""
    config = NoDelayConfig(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        log_level="info",
        access_log=access_log,
        loop=loop,
        **healthcheck_option(),
    )
    run_server(config)
