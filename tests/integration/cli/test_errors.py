"""Every failure of the ``recview`` command is one line on standard error.

Exit status 2 for a usage error (the command line cannot work), 1 for a data
error (the files do not fit), 130 for an interrupt; never a traceback. Each
case runs the real command in a child process (``python -m recview``).
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 120


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    np.arange(1, 11, dtype="<u8").tofile(d / "d.bin")  # 10 records of 8 bytes
    (d / "odd.bin").write_bytes(bytes(13))
    (d / "raises.py").write_text("raise RuntimeError('boom at import')\n")
    (d / "syntax.py").write_text("X = (\n")
    (d / "ok.py").write_text("X = 1\nS = 'u8'\n")
    (d / "two.h").write_text("struct a { int x; };\nstruct b { int y; };\n")
    (d / "tag.h").write_text("struct t { int x; };\ntypedef struct u { long y; } t;\n")
    (d / "bad.h").write_text("struct a { foo x; };\n")
    (d / "bad.json").write_text("{not json")
    (d / "t.bin").write_bytes(b"\xff\xfe\x00\x01abc\x00" * 4)
    with gzip.open(d / "short.gz", "wb") as fh:
        fh.write(bytes(80))
    (d / "corrupt.gz").write_bytes(b"\x1f\x8b" + bytes(30))
    return d


# (argv, exit status, text the line must hold); "{d}" is the folder of the files
CASES: list[tuple[list[str], int, str]] = [
    (["plot", "{d}/d.bin", "-s", "u8", "--field", "f0", "-o", "{d}/v.txt"], 2, "v.txt"),
    (["plot", "{d}/d.bin", "-s", "u8", "--field", "f0", "-o", "{d}/no/v.png"], 1, "v.png"),
    (["head", "{d}/d.bin", "-s", "{d}/raises.py:X"], 1, "raises.py"),
    (["head", "{d}/d.bin", "-s", "{d}/syntax.py:X"], 1, "syntax.py"),
    (["head", "{d}/d.bin", "-s", "{d}/ok.py:Y"], 1, "ok.py"),
    (["head", "{d}/d.bin", "-s", "{d}/ok.py:X"], 1, "ok.py:X"),
    (["head", "{d}/d.bin", "-s", "nosuch.h:s"], 1, "nosuch.h: No such file or directory"),
    (["head", "{d}/d.bin", "-s", "nosuch.h"], 1, "nosuch.h: No such file or directory"),
    (["head", "{d}/d.bin", "-s", "{d}/two.h"], 1, "--schema {d}/two.h:NAME"),
    (["head", "{d}/d.bin", "-s", "{d}/bad.h"], 1, "bad.h"),
    (["head", "{d}/d.bin", "-s", "{d}/bad.json"], 1, "bad.json"),
    (["head", "{d}/d.bin", "-s", "no_such_module_xyz:X"], 1, "no_such_module_xyz"),
    (["head", "{d}/odd.bin", "-s", "u8"], 1, "--trailing ignore"),
    (["stats", "{d}/odd.bin", "-s", "u8"], 1, "odd.bin"),
    (["head", "{d}/d.bin", "-s", "u8", "--count", "20"], 1, "d.bin"),
    (["head", "{d}/d.bin", "-s", "u8", "--offset", "100"], 1, "d.bin"),
    (["head", "{d}/nope.bin", "-s", "u8"], 1, "nope.bin: No such file or directory"),
    (["head", "{d}", "-s", "u8"], 1, "Is a directory"),
    (["head", "{d}/short.gz", "-s", "u8", "--count", "50"], 1, "short.gz"),
    (["head", "{d}/corrupt.gz", "-s", "u8"], 1, "corrupt.gz"),
    (["convert", "{d}/d.bin", "-s", "u8", "-o", "{d}/no/x.csv"], 1, "{d}/no/x.csv"),
    (["convert", "{d}/d.bin", "-s", "u8", "-o", "{d}/x.xyz"], 2, "x.xyz"),
    (["convert", "{d}/d.bin", "-s", "u8", "-o", "{d}/d.bin", "--to", "csv"], 2, "d.bin"),
    (
        ["convert", "{d}/short.gz", "-s", "u8", "--count", "50", "-o", "{d}/p.parquet"],
        1,
        "short.gz",
    ),
    (["convert", "{d}/t.bin", "-s", "S8", "-o", "{d}/t.parquet", "--strings", "text"], 1, "t.bin"),
    (["inspect", "{d}/d.bin", "-s", "u8", "--record", "99"], 2, "d.bin"),
    (["slice", "{d}/d.bin", "-s", "u8", "--rows", "a:b"], 2, "--rows"),
    (["head", "{d}/d.bin", "-s", "u8", "--fields", "nope"], 2, "nope"),
    (["head", "{d}/d.bin", "-s", "u8", "--format", "xml"], 2, "xml"),
    (["head", "{d}/d.bin"], 2, "--schema"),
    (["head"], 2, "FILE"),
    (["frobnicate"], 2, "frobnicate"),
    ([], 2, "command"),
    (["guess", "{d}/nope.bin"], 1, "nope.bin"),
    (["head", "{d}/d.bin", "-s", "[(1, 2)]"], 1, "--schema '[(1, 2)]'"),
    (["head", "{d}/d.bin", "-s", "{bad"], 1, "--schema '{bad': schema JSON"),
]


@pytest.mark.parametrize(("argv", "status", "says"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_failure_is_one_line(bad: Path, argv: list[str], status: int, says: str) -> None:
    args = [a.replace("{d}", str(bad)) for a in argv]
    res = subprocess.run(
        [sys.executable, "-m", "recview", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    err = res.stderr.decode()
    assert res.returncode == status, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("recview"), err
    assert says.replace("{d}", str(bad)) in err, err
    assert "=" not in err.replace("==", "") or "--" in err, err  # no API syntax such as name=


def test_no_hint_in_api_syntax(bad: Path) -> None:
    # The library says trailing="ignore" and name=; the command line says
    # --trailing ignore and --schema FILE:NAME.
    for args in (
        ["head", f"{bad}/odd.bin", "-s", "u8"],
        ["head", f"{bad}/d.bin", "-s", f"{bad}/two.h"],
        ["head", f"{bad}/d.bin", "-s", f"{bad}/tag.h:t"],
    ):
        res = subprocess.run(
            [sys.executable, "-m", "recview", *args],
            capture_output=True, timeout=TIMEOUT, check=False, cwd=REPO,
        )  # fmt: skip
        err = res.stderr.decode()
        assert res.returncode == 1
        for api in ("trailing=", "name=", "pass "):
            assert api not in err, err


def test_interrupt_during_start_up_is_one_line(bad: Path) -> None:
    # The schema module signals that start-up is under way, then waits: the
    # interrupt lands while the command line is still loading the schema.
    ready = bad / "ready"
    slow = bad / "slow.py"
    slow.write_text(
        "import pathlib, time\n"
        f"pathlib.Path({str(ready)!r}).write_text('x')\n"
        "time.sleep(60)\n"
        "X = 'u8'\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "recview", "head", f"{bad}/d.bin", "-s", f"{slow}:X"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert ready.exists()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ready.unlink(missing_ok=True)
    text = err.decode()
    assert proc.returncode == 130, text
    assert text == "recview head: interrupted\n"


def test_interrupt_while_waiting_for_a_fifo_is_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "recview", "head", str(fifo), "-s", "u8"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Wait until the child is blocked opening the FIFO (no writer yet).
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                wchan = Path(f"/proc/{proc.pid}/wchan").read_text()
            except OSError:
                wchan = ""
            if "fifo" in wchan or "pipe" in wchan:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert proc.returncode == 130, text
    assert text.count("\n") == 1 and "Traceback" not in text, text


def test_interrupt_before_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from recview import cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_build_parser", interrupted)
    assert cli.main(["head", "x.bin", "-s", "u8"]) == 130
    assert capsys.readouterr().err == "recview: interrupted\n"
