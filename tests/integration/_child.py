"""Running a measurement in a fresh Python process, whose last line of output is its JSON result.

A fresh process has its own peak RSS (``ru_maxrss`` never goes down), so
each memory bound is measured on its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def json_of_child(code: str, *argv: str, timeout: float = 300) -> dict[str, Any]:
    """Run ``python -c code ARGV...``; it must succeed; its last line of output, as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
