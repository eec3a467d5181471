"""``recview guess`` on files numpy itself wrote: a guess that is right.

Each case is a dump written with ``ndarray.tofile`` or ``np.save`` and guessed
by the installed command line in a subprocess (``python -m recview guess
FILE --format json``); the layout numpy used is the oracle. The corpus of
``benchmarks/bench_guess.py`` is held to its rates: at least 90% of the
sizes and headers right, 80% of the field bounds.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recview.cli._guess import MIN_SCORE, guess_bytes

ROOT = Path(__file__).resolve().parents[2]


def cli_guess(path: Path) -> tuple[int, dict[str, Any] | None, str]:
    done = subprocess.run(
        [sys.executable, "-m", "recview", "guess", str(path), "--format", "json", "-q"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    doc = json.loads(done.stdout) if done.returncode == 0 else None
    return done.returncode, doc, done.stderr


def fields(doc: dict[str, Any]) -> list[tuple[int, str]]:
    return [(f["offset"], f["type"]) for f in doc["fields"]]


def numpy_fields(dt: np.dtype[Any]) -> list[tuple[int, str]]:
    assert dt.names is not None
    return [(dt.fields[n][1], dt.fields[n][0].str) for n in dt.names]


def tofile(tmp_path: Path, a: np.ndarray, name: str = "dump.bin") -> Path:
    path = tmp_path / name
    a.tofile(path)
    return path


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(lambda rng, n: 1.7e9 + np.cumsum(rng.exponential(0.3, n)), id="epoch-seconds"),
        pytest.param(lambda rng, n: 1.7e9 + np.arange(n) * 0.25, id="epoch-quarter-seconds"),
        pytest.param(lambda rng, n: np.arange(n) * 1e-3, id="arange-times-1e-3"),
    ],
)
def test_float64_timestamps_are_float64_not_uint64(tmp_path: Path, values: Any) -> None:
    a = np.asarray(values(np.random.default_rng(0), 50_000), dtype="<f8")
    code, doc, err = cli_guess(tofile(tmp_path, a))
    assert code == 0, err
    assert doc is not None
    assert (doc["itemsize"], doc["header_nbytes"], doc["records"]) == (8, 0, len(a))
    assert fields(doc) == [(0, "<f8")]


def test_f8_f4_i4_records_have_their_own_size_not_a_multiple(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    dt = np.dtype([("t", "<f8"), ("v", "<f4"), ("i", "<i4")])
    a = np.zeros(20_000, dt)
    a["t"] = np.arange(len(a)) * 1e-3
    a["v"] = rng.normal(0, 1, len(a))
    a["i"] = rng.integers(-1000, 1000, len(a))
    code, doc, err = cli_guess(tofile(tmp_path, a))
    assert code == 0, err
    assert doc is not None
    assert (doc["itemsize"], doc["header_nbytes"]) == (16, 0)
    assert fields(doc) == numpy_fields(dt)


@pytest.mark.parametrize("order", ["<", ">"])
def test_a_small_valued_int64_is_one_field(tmp_path: Path, order: str) -> None:
    rng = np.random.default_rng(2)
    dt = np.dtype([("a", f"{order}i8"), ("x", f"{order}f8")])
    a = np.zeros(20_000, dt)
    a["a"] = rng.integers(-50, 50, len(a))
    a["x"] = rng.normal(10, 1, len(a))
    code, doc, err = cli_guess(tofile(tmp_path, a))
    assert code == 0, err
    assert doc is not None
    assert doc["itemsize"] == 16
    assert fields(doc) == numpy_fields(dt)


@pytest.mark.parametrize("bound", [30_000, 1_000_000])
def test_an_int32_is_not_split_in_two_int16(tmp_path: Path, bound: int) -> None:
    rng = np.random.default_rng(3)
    dt = np.dtype([("a", "<i4"), ("x", "<f4")])
    a = np.zeros(20_000, dt)
    a["a"] = rng.integers(-bound, bound, len(a))
    a["x"] = rng.normal(10, 1, len(a))
    code, doc, err = cli_guess(tofile(tmp_path, a))
    assert code == 0, err
    assert doc is not None
    assert fields(doc) == numpy_fields(dt)


def test_adjacent_char_fields_of_wtmp_stay_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    ut = np.dtype([("type", "<i2"), ("pad", "V2"), ("pid", "<i4"), ("line", "S32"), ("id", "S4"),
                   ("user", "S32"), ("host", "S256"), ("term", "<i2"), ("exit", "<i2"),
                   ("session", "<i4"), ("sec", "<i4"), ("usec", "<i4"), ("addr", "<i4", (4,)),
                   ("unused", "V20")])  # fmt: skip
    w = np.zeros(3000, ut)
    w["type"] = rng.choice([7, 8, 2], len(w))
    w["pid"] = rng.integers(300, 60000, len(w))
    w["line"] = rng.choice([b"pts/0", b"pts/12", b"tty1", b"~"], len(w))
    w["id"] = rng.choice([b"ts/0", b"tty1", b"~~"], len(w))
    w["user"] = rng.choice([b"root", b"alice", b"reboot"], len(w))
    w["host"] = rng.choice([b"10.0.0.7", b"6.1.0-13-amd64", b"laptop.example.org"], len(w))
    w["sec"] = 1_700_000_000 + np.cumsum(rng.integers(1, 600, len(w)))
    code, doc, err = cli_guess(tofile(tmp_path, w, "wtmp"))
    assert code == 0, err
    assert doc is not None
    assert doc["itemsize"] == 384
    text = [(f["offset"], f["type"]) for f in doc["fields"] if f["kind"] == "text"]
    assert text[:3] == [(8, "|S32"), (40, "|S4"), (44, "|S32")]
    assert text[3][0] == 76  # host


def test_np_save_header_and_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    dt = np.dtype([("ts", "<u8"), ("px", "<f8"), ("q", "<i4"), ("side", "<i4")])
    a = np.zeros(20_000, dt)
    a["ts"] = 1_700_000_000_000 + np.arange(len(a)) * 250
    a["px"] = 100 + np.cumsum(rng.normal(0, 0.05, len(a)))
    a["q"] = rng.integers(-500, 500, len(a))
    a["side"] = rng.integers(0, 2, len(a))
    path = tmp_path / "a.npy"
    np.save(path, a)
    code, doc, err = cli_guess(path)
    assert code == 0, err
    assert doc is not None
    assert doc["header_nbytes"] == path.stat().st_size - a.nbytes
    assert (doc["itemsize"], doc["records"]) == (24, len(a))
    assert [t for _, t in fields(doc)][:2] == ["<u8", "<f8"]


def test_an_elf_binary_is_refused_and_a_float_array_is_not(tmp_path: Path) -> None:
    elf = tmp_path / "python.bin"
    elf.write_bytes(Path(sys.executable).resolve().read_bytes()[: 4 << 20])
    code, doc, err = cli_guess(elf)
    assert code == 1 and doc is None
    assert "no periodic structure convincing enough" in err
    floats = np.random.default_rng(6).normal(0, 1, 200_000)
    code, doc, err = cli_guess(tofile(tmp_path, floats))
    assert code == 0, err
    assert doc is not None
    assert fields(doc) == [(0, "<f8")]
    assert doc["score"] > MIN_SCORE  # an ELF binary scores 0.0, one random f8 column 0.08


@pytest.mark.slow
def test_the_corpus_meets_the_documented_rates() -> None:
    spec = importlib.util.spec_from_file_location("bench_guess", ROOT / "benchmarks/bench_guess.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_guess"] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    cases = bench.corpus()
    assert len(cases) >= 30
    results = [bench.evaluate(c) for c in cases]
    n = len(results)
    assert sum(r["size"] for r in results) / n >= 0.9
    assert sum(r["header"] for r in results) / n >= 0.9
    assert sum(r["bounds"] for r in results) / n >= 0.8
    for name, data in bench.not_records():
        with pytest.raises(Exception, match="no periodic structure") as info:
            guess_bytes(data)
        assert type(info.value).__name__ == "LayoutError", name
