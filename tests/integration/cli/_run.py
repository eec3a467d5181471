"""Running the real ``recview`` command in a child process, with a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 120


def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m recview ARGS`` from the repository, standard input closed."""
    return subprocess.run(
        [sys.executable, "-m", "recview", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def ok(*args: str, env: Mapping[str, str] | None = None) -> str:
    """Standard output of a command that must succeed."""
    res = run(*args, env=env)
    assert res.returncode == 0, res.stderr
    return res.stdout
