"""scripts.skipped: print how many tests a pytest JUnit XML report says were skipped."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def skipped(report: str) -> list[str]:
    """The `class::name` of every skipped (or xfailed) test case in the report."""
    return [
        f"{case.get('classname')}::{case.get('name')}"
        for case in ET.parse(report).iter("testcase")
        if case.find("skipped") is not None
    ]


def main() -> None:
    """Print the count on stdout, the skipped tests on stderr."""
    names = skipped(sys.argv[1])
    for name in names:
        print(f"[test] skipped: {name}", file=sys.stderr)  # noqa: T201
    print(len(names))  # noqa: T201


if __name__ == "__main__":
    main()
