"""Every failure of the ``recview`` command is one line on standard error.

Exit status 2 for a usage error (the command line cannot work), 1 for a data
error (the files do not fit), 130 for an interrupt; never a traceback. Each
case runs the real command in a child process (``python -m recview``).
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.integration.cli._run import REPO, TIMEOUT, recview


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
    res = recview(*args, stdin=b"")
    err = res.stderr.decode()
    assert res.returncode == status, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("recview"), err
    assert says.replace("{d}", str(bad)) in err, err
    # no API syntax such as trailing="warn" (an option's --count=5 is the CLI's own)
    assert re.search(r"(?<![-\w])[a-z_]+=", err) is None, err


def test_no_hint_in_api_syntax(bad: Path) -> None:
    # The library says trailing="ignore" and name=; the command line says
    # --trailing ignore and --schema FILE:NAME.
    for args in (
        ["head", f"{bad}/odd.bin", "-s", "u8"],
        ["head", f"{bad}/d.bin", "-s", f"{bad}/two.h"],
        ["head", f"{bad}/d.bin", "-s", f"{bad}/tag.h:t"],
    ):
        res = recview(*args)
        err = res.stderr.decode()
        assert res.returncode == 1
        for api in ("trailing=", "name=", "pass "):
            assert api not in err, err


def _interrupt(
    argv: list[str],
    *,
    cwd: Path,
    ready: Callable[[int], bool] | None = None,
    after: float = 0.0,
) -> tuple[int, str]:
    """Run ``argv``, wait until ``ready(pid)`` (when given) and ``after`` more
    seconds, send SIGINT; returns the exit status and standard error."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if ready is not None:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None and not ready(proc.pid):
                time.sleep(0.0002)
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode()


def _proc_text(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


def test_interrupt_during_start_up_is_one_line(bad: Path) -> None:
    # The schema module signals that start-up is under way, then waits: the
    # interrupt lands while the command line is still loading the schema.
    ready = bad / "ready"
    slow = bad / "slow.py"
    slow.write_text(
        "import os, pathlib, time\n"
        # written under another name and renamed: once `ready` exists it is
        # closed, so the interrupt cannot land inside write_text (whose open
        # file would then be reported as unclosed on the way out)
        f"pathlib.Path({str(ready) + '.tmp'!r}).write_text('x')\n"
        f"os.replace({str(ready) + '.tmp'!r}, {str(ready)!r})\n"
        "time.sleep(60)\n"
        "X = 'u8'\n"
    )
    try:
        code, text = _interrupt(
            [sys.executable, "-m", "recview", "head", f"{bad}/d.bin", "-s", f"{slow}:X"],
            cwd=REPO, ready=lambda _pid: ready.exists(),
        )  # fmt: skip
    finally:
        ready.unlink(missing_ok=True)
    assert code == 130, text
    assert text == "recview head: interrupted\n"


def test_interrupt_while_waiting_for_a_fifo_is_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)

    def blocked(pid: int) -> bool:  # opening the FIFO (no writer yet)
        # Linux blocks the open in fs/pipe.c's wait_for_partner(); without a
        # match the wait ran to TIMEOUT (2 minutes) before the interrupt.
        wchan = _proc_text(pid, "wchan")
        return any(w in wchan for w in ("fifo", "pipe", "wait_for_partner"))

    code, text = _interrupt(
        [sys.executable, "-m", "recview", "head", str(fifo), "-s", "u8"], cwd=REPO, ready=blocked
    )
    assert code == 130, text
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


SCRIPT = Path(sys.executable).with_name("recview")


def _interrupt_script(tmp_path: Path, *, after: float, when_mapped: str | None) -> tuple[int, str]:
    """Interrupt the installed ``recview head FIFO`` (a FIFO with no writer: it
    never ends by itself) ``after`` seconds past its start, or past the moment
    ``when_mapped`` appears in its memory map."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    ready = None if when_mapped is None else (lambda pid: when_mapped in _proc_text(pid, "maps"))
    return _interrupt(
        [str(SCRIPT), "head", str(fifo), "-s", "u8"], cwd=tmp_path, ready=ready, after=after
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the installed recview script")
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/PID/maps")
@pytest.mark.parametrize("after", [0.0, 0.002, 0.01, 0.03, 0.06, 0.1, 0.15])
def test_interrupt_while_the_script_imports_recview_is_one_line(
    tmp_path: Path, after: float
) -> None:
    # numpy's extension is mapped only by `import recview`, under the entry
    # point's guard (_recview_entry.py): from then on a Ctrl-C is one line.
    code, err = _interrupt_script(tmp_path, after=after, when_mapped="_multiarray_umath")
    assert code == 130, err
    assert err in ("recview: interrupted\n", "recview head: interrupted\n"), err


@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the installed recview script")
@pytest.mark.parametrize("after", [0.01, 0.02, 0.04, 0.07, 0.1, 0.15])
def test_interrupt_early_in_the_script_is_never_a_recview_traceback(
    tmp_path: Path, after: float
) -> None:
    code, err = _interrupt_script(tmp_path, after=after, when_mapped=None)
    if err == "KeyboardInterrupt\n":
        # Python's own start-up interrupted before any Python frame ran (no
        # traceback at all, so no recview code): Python's exit status 1.
        assert code in (1, -signal.SIGINT), err
    elif "Traceback" in err:
        # Only Python's own start-up (site, the console script's first import),
        # before any recview code runs, may still end in Python's traceback.
        frames = [line for line in err.splitlines() if line.startswith('  File "')]
        assert not [f for f in frames if "_recview_entry" in f or "/recview/" in f], err
        assert code in (1, -signal.SIGINT), err
    else:
        assert code in (130, -signal.SIGINT), err
        assert err in ("", "recview: interrupted\n", "recview head: interrupted\n"), err
