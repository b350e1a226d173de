"""`make test` needs nothing running beforehand and allows no skipped test.

scripts/redis-up starts (or finds) the project-local Redis and prints its URL;
scripts.skipped counts the skipped tests of pytest's JUnit report, which the
Makefile's `test` target prints and requires to be zero.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from api.settings import PROJECT_ROOT
from scripts.skipped import skipped


def test_redis_up_gives_a_redis_that_answers(redis_url: str) -> None:
    """The URL redis-up prints (again: it is idempotent) answers PING, on 127.0.0.1."""
    again = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "redis-up")], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert again.startswith("redis://127.0.0.1:") or again == redis_url
    client = redis.Redis.from_url(again, socket_connect_timeout=2)
    try:
        assert client.ping()
    finally:
        client.close()


def test_skipped_tests_are_counted(tmp_path: Path) -> None:
    """Skipped and xfailed cases count; passed and failed ones do not."""
    report = tmp_path / "junit.xml"
    report.write_text(
        "<testsuites><testsuite>"
        '<testcase classname="tests.a" name="ok"/>'
        '<testcase classname="tests.a" name="gone"><skipped message="no redis"/></testcase>'
        '<testcase classname="tests.b" name="broken"><failure message="x"/></testcase>'
        '<testcase classname="tests.b" name="later"><skipped type="pytest.xfail"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert skipped(str(report)) == ["tests.a::gone", "tests.b::later"]


def test_make_test_starts_redis_and_refuses_skips() -> None:
    """The Makefile's test target depends on `redis`, hands the URL to pytest and fails on
    a non-zero skipped count."""
    make = (PROJECT_ROOT / "Makefile").read_text()
    target = make[make.index("\ntest:") :].split("\n\n", 1)[0]
    assert " redis " in target.splitlines()[1] + " "
    assert "ONEMAP_TEST_REDIS_URL=$$(scripts/redis-up)" in target
    assert "scripts.skipped" in target and '"$$skipped" != 0' in target
