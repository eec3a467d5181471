"""The ``recview`` command in a child process: the shipped samples, real pipes,
exit codes, a closed pipe, bounded memory, and the installed console script.

Children run ``[sys.executable, "-m", "recview", ...]``, which works in any
environment where recview is importable; one test runs the console script
that the install put next to the interpreter.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from tests.integration.cli._run import REPO, TIMEOUT, recview

SAMPLES = REPO / "samples"


def _csv(out: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out.decode())))


def test_info_on_the_shipped_trades_sample() -> None:
    res = recview("info", "samples/trades.bin", "-s", "samples/trades.json")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    assert "record size  32 bytes" in out
    assert "records      1,000" in out
    assert res.stderr == b""


def test_each_sample_with_a_different_schema_source_matches_numpy() -> None:
    sensor_dtype = rv.Schema.from_json((SAMPLES / "sensor.json").read_text()).dtype
    expected = np.fromfile(SAMPLES / "sensor.bin", dtype=sensor_dtype, offset=64)
    res = recview(
        "tail", "samples/sensor.bin", "-s", "samples.schemas:Sensor", "--offset", 64,
        "-n", 5, "--format", "csv",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = _csv(res.stdout)
    assert [int(r["ts"]) for r in rows] == expected["ts"][-5:].tolist()
    assert [np.float32(r["temperature"]) for r in rows] == expected["temperature"][-5:].tolist()

    particles = rv.Schema.from_c((SAMPLES / "particle.h").read_text(), "particle")
    expected = np.fromfile(SAMPLES / "particles.bin", dtype=particles.dtype)
    res = recview(
        "slice", "samples/particles.bin", "-s", "samples/particle.h:particle",
        "--rows", "10:13", "--format", "jsonl",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [d["id"] for d in docs] == [10, 11, 12]
    assert [d["flags"] for d in docs] == expected["flags"][10:13].tolist()
    assert [d["name"] for d in docs] == [n.decode() for n in expected["name"][10:13]]


def test_stats_through_a_real_pipe() -> None:
    data = (SAMPLES / "trades.bin").read_bytes()
    dtype = rv.Schema.from_json((SAMPLES / "trades.json").read_text()).dtype
    expected = np.frombuffer(data, dtype=dtype)
    proc = subprocess.Popen(
        [sys.executable, "-m", "recview", "stats", "-", "-s", "samples/trades.json", "--format",
         "json"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = proc.communicate(data, timeout=TIMEOUT)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert doc["records"] == 1000
    assert doc["fields"]["qty"]["max"] == int(expected["qty"].max())
    assert doc["fields"]["price"]["mean"] == pytest.approx(float(expected["price"].mean()))
    assert err == b""  # no progress bar: stderr is not a terminal


def test_guess_on_the_shipped_sensor_log() -> None:
    res = recview("guess", "samples/sensor.bin", "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["itemsize"], doc["header_nbytes"], doc["records"]) == (24, 64, 500)
    assert rv.Schema.from_json(json.dumps(doc["schema"])).itemsize == 24


def test_convert_parquet_and_back_in_a_child(tmp_path: Path) -> None:
    import pyarrow.parquet as pq  # the arrow extra (in the test extra)

    out = tmp_path / "trades.parquet"
    res = recview("convert", "samples/trades.bin", "-s", "samples/trades.json", "-o", out)
    assert res.returncode == 0, res.stderr
    table = pq.read_table(out).to_pydict()
    dtype = rv.Schema.from_json((SAMPLES / "trades.json").read_text()).dtype
    expected = np.fromfile(SAMPLES / "trades.bin", dtype=dtype)
    assert table["ts"] == expected["ts"].tolist()
    # char[8]: the exact bytes, trailing NULs included (lossless by default)
    assert table["venue"] == [bytes(v) for v in expected["venue"].view("V8").tolist()]


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (("head", "samples/nope.bin", "-s", "samples/trades.json"), 1, "No such file"),
        (("head", "samples/trades.bin", "-s", "samples/sensor.json"), 1, "stray bytes"),
        (("slice", "samples/trades.bin", "-s", "samples/trades.json"), 2, "--rows"),
        (("bogus",), 2, "invalid choice"),
    ],
)
def test_exit_codes_and_one_line_errors(argv: tuple[str, ...], code: int, needle: str) -> None:
    res = recview(*argv)
    assert res.returncode == code
    err = res.stderr.decode()
    assert needle in err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    # a usage error of the main parser (an unknown command) is the main program's
    prog = "recview" if argv[0] == "bogus" else f"recview {argv[0]}"
    assert err.startswith(f"{prog}: error: "), err


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "many.bin"
    a = np.zeros(300_000, [("n", "<u8"), ("x", "<f8")])
    a["n"] = np.arange(len(a))
    a.tofile(path)
    argv = [sys.executable, "-m", "recview", "slice", str(path), "-s", "u8,f8", "--rows", ":"]
    with subprocess.Popen(
        [*argv, "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"f0,f1\n"
        proc.stdout.close()  # like `| head -1`
        err = proc.stderr.read()
        assert proc.wait(timeout=TIMEOUT) == 0
    assert err == b""


def test_scans_keep_memory_bounded(tmp_path: Path) -> None:
    """stats and convert on a 128 MiB file: the child's peak RSS grows by far less."""
    path = tmp_path / "big.bin"
    n = 4 << 20
    a = np.zeros(
        n, [("n", "<u8"), ("x", "<f8"), ("q", "<u4"), ("s", "u1"), ("p", "V3"), ("v", "S8")]
    )
    a["n"] = np.arange(n)
    a["x"] = 0.5
    a.tofile(path)
    del a
    spec = "u8,f8,u4,u1,V3,S8"
    res = recview("stats", path, "-s", spec, "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)["run"]
    assert run["records"] == n and run["nbytes"] == 128 << 20
    assert run["peak_rss_nbytes"] - run["start_rss_nbytes"] < 48 << 20
    assert run["mapped_nbytes"] in (0, 128 << 20)  # 0 only when mmap fell back to pread
    code = (
        "from recview.cli._progress import peak_rss_nbytes\n"
        "from recview.cli import main\n"
        f"rc = main(['convert', {str(path)!r}, '-s', {spec!r}, '-o', {str(tmp_path / 'o.npy')!r},"
        " '-q'])\n"
        "print(rc, peak_rss_nbytes())\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=TIMEOUT, check=False
    )
    rc, peak = child.stdout.split()
    assert int(rc) == 0, child.stderr
    assert int(peak) < 100 << 20  # the interpreter, numpy and about one batch
    back = np.load(tmp_path / "o.npy", mmap_mode="r")
    assert back.shape == (n,) and int(back["f0"][-1]) == n - 1


def test_the_installed_console_script() -> None:
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    # Outside the package, so that importing recview (numpy) is under its Ctrl-C guard.
    assert scripts.get("recview") == "_recview_entry:main"
    script = Path(sys.executable).parent / "recview"
    found = str(script) if script.exists() else shutil.which("recview")
    assert found, "the recview console script is not installed next to the interpreter"
    res = subprocess.run(
        [found, "head", "samples/trades.bin", "-s", "samples/trades.json", "-n", "2"],
        cwd=REPO, capture_output=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.decode().splitlines()
    assert lines[0].split() == ["#", "ts", "price", "qty", "side", "venue"]
    assert len(lines) == 4
    res = subprocess.run([found, "--version"], capture_output=True, timeout=TIMEOUT, check=False)
    assert res.returncode == 0 and res.stdout.startswith(b"recview ")
