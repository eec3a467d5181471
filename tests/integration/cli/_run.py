"""Running the real ``recview`` command in a child process, with a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def recview(
    *argv: object, cwd: Path = REPO, stdin: bytes | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """``python -m recview ARGV`` as bytes, ``stdin`` fed to it (the test's own when None)."""
    return subprocess.run(
        [sys.executable, "-m", "recview", *map(str, argv)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        **kwargs,
    )
