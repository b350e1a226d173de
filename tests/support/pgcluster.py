"""tests.support.pgcluster: a private, throwaway PostgreSQL + PostGIS server that a test may kill.

Fault tests stop the database hard; they must never touch the shared server,
so each makes its own cluster (initdb into a temporary directory, its own
port, owned by the postgres user when the tests run as root), the way
scripts/db-up makes the project's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from api.settings import PROJECT_ROOT
from tests.support.liveserver import free_port


def bindir() -> Path | None:
    """The newest PostgreSQL server binaries installed (None when there are none)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def server_binaries() -> Path:
    """PostgreSQL and PostGIS server binaries, installed from Debian's packages when missing.

    scripts/db-up installs them for a project-local cluster; with ONEMAP_DATABASE_URL or
    Docker it does not, so the fault tests install them here (never a skip).
    """
    root = PROJECT_ROOT / "scripts" / "ensure-packages"
    pg = bindir()
    if pg is None:
        subprocess.run([str(root), "postgresql", "postgresql-postgis"], check=True)
        pg = bindir()
    assert pg is not None, "no PostgreSQL server binaries after installing postgresql"
    version = pg.parent.name
    if not Path(f"/usr/share/postgresql/{version}/extension/postgis.control").is_file():
        subprocess.run([str(root), f"postgresql-{version}-postgis-3"], check=True)
    if not Path(f"/usr/share/postgresql/{version}/extension/pgrouting.control").is_file():
        subprocess.run([str(root), f"postgresql-{version}-pgrouting"], check=True)
    return pg


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.getuid() == 0 else cmd


@dataclass
class Cluster:
    """A running private cluster: its port, the onemap database URL, stop/start."""

    bin: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        """PGDATA."""
        return self.root / "data"

    @property
    def url(self) -> str:
        """The database the app uses."""
        return f"postgresql://onemap@127.0.0.1:{self.port}/onemap"

    @property
    def admin_url(self) -> str:
        """A superuser connection (pg_stat_activity of every backend)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._ctl("-l", str(self.root / "pg.log"), "-w", "-t", "60", "start")

    def crash(self) -> None:
        """Stop immediately: every backend killed, no checkpoint (crash recovery on start)."""
        self._ctl("-m", "immediate", "-w", "stop")

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run SQL as the superuser; its output."""
        out = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip()


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A fresh cluster with role and database `onemap` (PostGIS installed); removed afterwards."""
    pg = server_binaries()
    root = Path(tempfile.mkdtemp(prefix="onemap-faults-pg-"))
    os.chmod(root, 0o755)
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    cluster = Cluster(pg, root, free_port())
    try:
        subprocess.run(
            _as_owner([str(pg / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True,
        )  # fmt: skip
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {cluster.port}\n"
                f"unix_socket_directories = '{root}'\nmax_connections = 100\n"
                "shared_buffers = 128MB\njit = off\n"
            )
        cluster.start()
        cluster.psql("CREATE ROLE onemap LOGIN CREATEDB")
        cluster.psql("CREATE ROLE onemap_app LOGIN NOINHERIT; GRANT onemap_app TO onemap")
        cluster.psql("CREATE EXTENSION IF NOT EXISTS postgis", db="template1")
        cluster.psql("CREATE EXTENSION IF NOT EXISTS pgrouting", db="template1")
        cluster.psql("CREATE DATABASE onemap OWNER onemap")
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.crash()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def replica_of(primary: Cluster) -> Iterator[Cluster]:
    """A hot-standby streaming replica of `primary` (pg_basebackup -R), on its own port.

    Made the way scripts/cluster-up makes the project's; `delay_apply(ms)` sets its
    recovery_min_apply_delay (a replica that lags on purpose).
    """
    root = Path(tempfile.mkdtemp(prefix="onemap-faults-replica-"))
    os.chmod(root, 0o755)
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    replica = Cluster(primary.bin, root, free_port())
    try:
        subprocess.run(
            _as_owner([str(primary.bin / "pg_basebackup"), "-h", "127.0.0.1",
                       "-p", str(primary.port), "-U", "postgres", "-D", str(replica.data),
                       "-R", "-X", "stream", "-c", "fast"]),
            check=True, capture_output=True,
        )  # fmt: skip
        with (replica.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {replica.port}\nunix_socket_directories = '{root}'\n"
                "hot_standby = on\nhot_standby_feedback = on\n"
            )
        replica.start()
        yield replica
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            replica.crash()
        shutil.rmtree(root, ignore_errors=True)


def delay_apply(replica: Cluster, ms: int) -> None:
    """Make the replica apply WAL `ms` after the primary committed it (0: at once)."""
    replica.psql(f"ALTER SYSTEM SET recovery_min_apply_delay = '{int(ms)}ms'")
    replica.psql("SELECT pg_reload_conf()")
