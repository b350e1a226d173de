"""`onemap serve` configuration: worker health checks that survive a busy machine."""

from __future__ import annotations

import socket

import uvicorn

from api.cli.serve import WORKER_HEALTHCHECK_S, NoDelayConfig, healthcheck_option


def test_workers_get_time_to_start() -> None:
    """uvicorn's supervisor kills a worker that does not answer its ping within the timeout
    (5 s by default), which on a loaded 2-core machine restarts workers still importing, for
    ever; `onemap serve` passes a longer one to the uvicorn installed here."""
    config = uvicorn.Config("api.main:create_app", factory=True, **healthcheck_option())
    assert config.timeout_worker_healthcheck == WORKER_HEALTHCHECK_S >= 30


def test_shared_socket_reports_tcp() -> None:
    """The listening socket the workers share says IPPROTO_TCP, so accepted connections get
    TCP_NODELAY (Kludex/uvicorn#3149)."""
    config = NoDelayConfig("api.main:create_app", factory=True, host="127.0.0.1", port=0)
    sock = config.bind_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
