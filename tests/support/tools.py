"""tests.support.tools: system tools a test needs (Debian packages), installed when missing.

A missing tool fails the test with the reason; it never skips it silently.
"""

from __future__ import annotations

import shutil
import subprocess

from api.settings import PROJECT_ROOT


def require(command: str, package: str) -> str:
    """The path of `command`, installing Debian's `package` with apt-get when it is missing."""
    found = shutil.which(command)
    if found is None:
        subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "ensure-packages"), package], check=False, timeout=900
        )
        found = shutil.which(command)
    assert found is not None, f"{command} is needed: install Debian's {package} (as root)"
    return found
