"""docker/compose.yml: both profiles (single, cluster) parse and resolve without a Docker engine.

Debian's `docker-compose` (installed by scripts/ensure-packages when missing)
validates the file against the Compose schema and prints it resolved (anchors,
merges, variables, relative paths); Compose v1 predates the top-level `name`,
so it reads a copy without that one key (the project name is given with -p).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"
PROFILES = {
    "single": {"db", "app"},
    "cluster": {"db", "replica", "redis", "node1", "node2", "haproxy"},
}


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`docker-compose config` of docker/compose.yml, parsed."""
    if shutil.which("docker-compose") is None:
        subprocess.run([str(PROJECT_ROOT / "scripts" / "ensure-packages"), "docker-compose"],
                       check=True)  # fmt: skip
    source = (DOCKER / "compose.yml").read_text(encoding="utf-8")
    assert yaml.safe_load(source)["name"] == "onemap"
    copy = tmp_path_factory.mktemp("compose") / "compose.yml"
    copy.write_text(
        "\n".join(line for line in source.splitlines() if not line.startswith("name:")),
        encoding="utf-8",
    )
    out = subprocess.run(
        ["docker-compose", "-p", "onemap", "--project-directory", str(DOCKER), "-f", str(copy),
         "config"],
        check=True, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return yaml.safe_load(out.stdout)


def _active(services: dict[str, Any], profile: str) -> set[str]:
    return {n for n, s in services.items() if not s.get("profiles") or profile in s["profiles"]}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_profile_resolves_to_its_services(resolved: dict[str, Any], profile: str) -> None:
    """The profile's services are exactly these, and every dependency is in the profile."""
    services = resolved["services"]
    active = _active(services, profile)
    assert active == PROFILES[profile]
    for name in active:
        assert set(services[name].get("depends_on", {})) <= active, name


def test_the_databases_carry_postgis_and_pgrouting(resolved: dict[str, Any]) -> None:
    """Primary and replica: one image, built FROM postgis/postgis with pgRouting added."""
    services = resolved["services"]
    assert services["db"]["image"] == services["replica"]["image"]
    assert "pgrouting" in services["db"]["image"]
    build = services["db"]["build"]
    dockerfile = Path(build["context"]) / build["dockerfile"]
    text = dockerfile.read_text(encoding="utf-8")
    assert "FROM postgis/postgis:15-" in text and "postgresql-15-pgrouting" in text
    assert "pg_basebackup" in " ".join(services["replica"]["command"])


def test_the_cluster_nodes_read_from_the_replica_behind_haproxy(resolved: dict[str, Any]) -> None:
    """node1/node2 read from the replica and share Redis; HAProxy's file is the script's."""
    services = resolved["services"]
    for node in ("node1", "node2"):
        env = services[node]["environment"]
        assert env["ONEMAP_READ_DATABASE_URLS"].endswith("@replica:5432/onemap")
        assert env["ONEMAP_REDIS_URL"] == "redis://redis:6379/0"
    expected = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "haproxy-cfg"), "8000", "node1:8000", "node2:8000"],
        check=True, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                         "HAPROXY_BIND": "*"},
    ).stdout  # fmt: skip
    lines = (DOCKER / "haproxy.cfg").read_text(encoding="utf-8").splitlines()
    assert "\n".join(lines[1:]) + "\n" == expected  # line 1: how it was generated
    assert "option httpchk GET /readyz" in expected
