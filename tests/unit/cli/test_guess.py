"""Layout guessing (``recview guess``): record size, header size, field kinds.

Each case builds a dump from a known layout with random content (noise:
random-walk floats, jittered counters, random integers, text from a small
vocabulary, fully random bytes), then checks what ``recview.cli._guess`` infers; then the command itself, in-process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.cli._guess import Guess, describe, guess_bytes, guess_file
from tests.unit.cli._helpers import Dump, run, set_stdin

Maker = Callable[[np.random.Generator, int], tuple[bytes, np.ndarray]]


def _trades(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray]:
    dt = np.dtype(
        {
            "names": ["ts", "price", "qty", "side", "sym"],
            "formats": ["<u8", "<f8", "<u4", "u1", "S8"],
            "offsets": [0, 8, 16, 20, 24],
            "itemsize": 32,
        }
    )
    a = np.zeros(n, dt)
    a["ts"] = np.uint64(1_700_000_000_000_000_000) + np.cumsum(
        rng.integers(1, 10**6, n), dtype=np.uint64
    )
    a["price"] = 100 + np.cumsum(rng.normal(0, 0.01, n))
    a["qty"] = rng.integers(1, 1000, n)
    a["side"] = rng.integers(0, 2, n)
    a["sym"] = rng.choice([b"AAPL", b"MSFT", b"GOOG", b"TSLA", b"BRK.B"], n)
    return b"", a


def _sensor_be(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray]:
    dt = np.dtype(
        [
            ("seq", ">u4"),
            ("sid", ">u2"),
            ("flags", ">u2"),
            ("temp", ">f4"),
            ("value", ">f8"),
            ("unit", "S4"),
        ]
    )
    a = np.zeros(n, dt)
    a["seq"] = np.arange(n) + 7
    a["sid"] = rng.integers(1, 9, n)
    a["flags"] = rng.integers(0, 4, n)
    a["temp"] = rng.normal(20, 3, n)
    a["value"] = rng.normal(500, 100, n)
    a["unit"] = rng.choice([b"degC", b"K", b"Pa"], n)
    header = b"SENSLOG\x00" + rng.integers(0, 256, 56, dtype=np.uint8).tobytes()
    return header, a


def _packed13(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray]:
    dt = np.dtype([("n", "<u4"), ("x", "<f8"), ("flag", "u1")])  # packed: 13 bytes
    a = np.zeros(n, dt)
    a["n"] = np.arange(n) * 3
    a["x"] = rng.uniform(-50, 50, n)
    a["flag"] = rng.integers(0, 3, n)
    return b"HEADER!", a


def _nested40(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray]:
    dt = np.dtype(
        [
            ("type", "<u2"),
            ("len", "<u2"),
            ("seq", "<u4"),
            ("xyz", "<f4", (3,)),
            ("name", "S16"),
            ("noise", "<u4"),
        ]
    )
    a = np.zeros(n, dt)
    a["type"] = 7
    a["len"] = 40
    a["seq"] = np.arange(n) + 1000
    a["xyz"] = rng.normal(0, 10, (n, 3))
    a["name"] = rng.choice([b"alpha", b"beta-long-name", b"gamma", b"delta_x"], n)
    a["noise"] = rng.integers(0, 2**32, n, dtype=np.uint64)  # fully random bytes
    header = b"DUMP" + np.array([2, n], "<u4").tobytes() + bytes(116)
    return header, a


def _wide200(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray]:
    dt = np.dtype([("id", "<u8"), ("samples", "<f8", (23,)), ("tag", "S8")])
    a = np.zeros(n, dt)
    a["id"] = np.arange(n) * 10
    a["samples"] = rng.lognormal(0, 1, (n, 23))
    a["tag"] = rng.choice([b"run-a", b"run-b"], n)
    return b"", a


CASES: dict[str, tuple[Maker, int, int]] = {
    # name: (maker, itemsize, header bytes)
    "trades-le-32": (_trades, 32, 0),
    "sensor-be-24-header-64": (_sensor_be, 24, 64),
    "packed-13-header-7": (_packed13, 13, 7),
    "nested-40-header-128": (_nested40, 40, 128),
    "wide-200": (_wide200, 200, 0),
}


def _dump(name: str, n: int = 3000, seed: int = 1) -> tuple[bytes, np.ndarray, Guess]:
    maker, _, _ = CASES[name]
    header, recs = maker(np.random.default_rng(seed), n)
    data = header + recs.tobytes()
    return data, recs, guess_bytes(data)


@pytest.mark.parametrize("name", sorted(CASES))
def test_guess_finds_record_and_header_size(name: str) -> None:
    _, itemsize, header = CASES[name]
    _data, recs, g = _dump(name)
    assert (g.itemsize, g.header_nbytes) == (itemsize, header)
    assert g.records == len(recs)
    assert g.trailing_nbytes == 0
    assert 0 < g.score <= 1


@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_guess_is_stable_across_random_content(name: str, seed: int) -> None:
    _, itemsize, header = CASES[name]
    _, _, g = _dump(name, n=1500, seed=seed)
    assert (g.itemsize, g.header_nbytes) == (itemsize, header)


def _kinds(g: Guess) -> dict[int, tuple[str, str]]:
    return {f.offset: (f.kind, f.dtype.str) for f in g.fields}


def test_guess_types_little_endian_columns() -> None:
    *_, g = _dump("trades-le-32")
    kinds = _kinds(g)
    assert kinds[0] == ("counter", "<u8")
    assert kinds[8] == ("float", "<f8")
    assert kinds[16][0] == "int"
    assert kinds[24] == ("text", "|S8")


def test_guess_types_big_endian_columns_after_a_header() -> None:
    *_, g = _dump("sensor-be-24-header-64")
    kinds = _kinds(g)
    assert kinds[0] == ("counter", ">u4")
    assert kinds[4] == ("int", ">u2")
    assert kinds[8] == ("float", ">f4")
    assert kinds[12] == ("float", ">f8")
    assert kinds[20] == ("text", "|S4")


def test_guess_types_constants_counters_floats_text() -> None:
    *_, g = _dump("nested-40-header-128")
    kinds = _kinds(g)
    assert kinds[0][0] == "constant"
    assert kinds[4] == ("counter", "<u4")
    assert [kinds[k] for k in (8, 12, 16)] == [("float", "<f4")] * 3
    assert kinds[20] == ("text", "|S16")


def test_guess_signed_small_integers() -> None:
    rng = np.random.default_rng(5)
    a = np.zeros(2000, [("n", "<u4"), ("d", "<i2"), ("e", "<i2")])
    a["n"] = np.arange(2000)
    a["d"] = rng.integers(-100, 100, 2000)
    a["e"] = rng.integers(-3000, 3000, 2000)
    g = guess_bytes(a.tobytes())
    assert g.itemsize == 8
    assert _kinds(g) == {0: ("counter", "<u4"), 4: ("int", "<i2"), 6: ("int", "<i2")}


def test_guessed_schema_round_trips_and_opens_the_file(tmp_path: Path) -> None:
    data, recs, g = _dump("sensor-be-24-header-64")
    path = tmp_path / "dump.bin"
    path.write_bytes(data)
    schema = rv.Schema.from_json(rv.Schema.from_dtype(g.dtype).to_json())
    assert schema.itemsize == 24
    with rv.open(path, schema, offset=g.header_nbytes) as view:
        assert len(view) == len(recs)
        assert view["counter_0"].tolist() == recs["seq"].tolist()
        np.testing.assert_array_equal(view["float_8"], recs["temp"])


def test_guess_file_reads_only_a_sample_but_counts_the_whole_file(tmp_path: Path) -> None:
    header, recs = _packed13(np.random.default_rng(3), 20000)
    path = tmp_path / "big.bin"
    path.write_bytes(header + recs.tobytes())
    g = guess_file(path, sample_nbytes=64 << 10)
    assert (g.itemsize, g.header_nbytes, g.records) == (13, 7, 20000)


def test_guess_without_total_size_takes_the_sample_as_the_file() -> None:
    data, _recs, _ = _dump("trades-le-32", n=500)
    g = guess_bytes(data, total_nbytes=None)
    assert (g.itemsize, g.records) == (32, 500)


def test_guess_random_bytes_is_a_layout_error() -> None:
    data = np.random.default_rng(0).integers(0, 256, 1 << 16, dtype=np.uint8).tobytes()
    with pytest.raises(rv.LayoutError, match="no periodic structure convincing enough"):
        guess_bytes(data)


def test_guess_too_few_bytes_is_a_layout_error() -> None:
    with pytest.raises(rv.LayoutError, match="too few"):
        guess_bytes(b"abc")


def test_guess_file_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(rv.LayoutError, match="noise.bin"):
        guess_file(path)


def test_describe_lists_sizes_and_fields() -> None:
    *_, g = _dump("packed-13-header-7", n=800)
    lines = describe(g, path="x.bin")
    assert lines[0].startswith("x.bin: record size 13 bytes")
    assert "header 7 bytes" in lines[0]
    assert any("counter" in line for line in lines[2:])
    assert len(lines) == 2 + len(g.fields)


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def test_guess_prints_a_schema_that_opens_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    recs = np.zeros(2000, [("seq", ">u4"), ("v", ">f8"), ("tag", "S4")])
    recs["seq"] = np.arange(2000)
    recs["v"] = np.random.default_rng(0).normal(10, 1, 2000)
    recs["tag"] = np.random.default_rng(1).choice([b"ab", b"cde", b"fghi"], 2000)
    path = tmp_path / "dump.bin"
    path.write_bytes(b"MAGIC123" + recs.tobytes())
    code, out, err = run(capsys, "guess", path)
    assert code == 0
    schema = rv.Schema.from_json(out)
    assert schema.itemsize == 16
    assert "record size 16 bytes" in err and "header 8 bytes" in err
    assert "--offset 8" in err
    with rv.open(path, schema, offset=8) as view:
        assert view[schema.names[0]].tolist() == recs["seq"].tolist()
    code, out, _ = run(capsys, "guess", path, "--format", "json", "-q")
    doc = json.loads(out)
    assert (doc["itemsize"], doc["header_nbytes"], doc["records"]) == (16, 8, 2000)
    assert [f["kind"] for f in doc["fields"]] == ["counter", "float", "text"]
    target = tmp_path / "guessed.json"
    code, out, err = run(capsys, "guess", path, "-o", target)
    assert code == 0 and out == "" and rv.Schema.from_json(target.read_text()) == schema


def test_guess_from_stdin_and_on_noise(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trades: Dump,
    tmp_path: Path,
) -> None:
    set_stdin(monkeypatch, trades.path.read_bytes())
    code, out, _ = run(capsys, "guess", "-", "-q")
    assert code == 0 and rv.Schema.from_json(out).itemsize == 32
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(2).integers(0, 256, 1 << 15, dtype=np.uint8).tobytes())
    code, out, err = run(capsys, "guess", noise)
    assert code == 1 and out == ""
    assert "no periodic structure convincing enough" in err and err.count("\n") == 1
