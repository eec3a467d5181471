"""Exit statuses, one-line errors, help, an empty file, and the docs/cli.md session.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.unit.cli._helpers import (
    Dump,
    run,
)


def test_missing_file_is_a_data_error(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, out, err = run(capsys, "head", trades.path.parent / "nope.bin", "-s", trades.schema)
    assert code == 1 and out == ""
    assert (
        err
        == f"recview head: error: {trades.path.parent / 'nope.bin'}: No such file or directory\n"
    )


def test_missing_schema_file_is_a_data_error(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    code, _, err = run(capsys, "head", trades.path, "-s", "missing.json")
    assert code == 1
    assert err == "recview head: error: missing.json: No such file or directory\n"


def test_wrong_schema_is_a_data_error(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "recview.schema", "version": 1, "itemsize": 4, "fields": []}')
    code, _, err = run(capsys, "head", trades.path, "-s", bad)
    assert code == 1 and "'fields' must be a non-empty list" in err
    code, _, err = run(capsys, "head", trades.path, "-s", "not_a_dtype_at_all")
    assert code == 1 and "is not a schema file, a C header, a module:object or a numpy dtype" in err
    # a schema that does not divide the file: the record count does not fit
    code, _, err = run(capsys, "head", trades.path, "-s", "u8,f8,u4,u1,S7")
    assert code == 1 and "stray bytes" in err and "--trailing ignore" in err
    assert "trailing=" not in err  # the library's keyword, said as the option


def test_schema_larger_than_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(bytes(10))
    code, out, err = run(capsys, "head", path, "-s", "u8,f8")
    assert code == 1 and out == ""
    assert "10 stray bytes" in err and err.count("\n") == 1
    code, _, err = run(capsys, "head", path, "-s", "u8,f8", "--count", 1)
    assert code == 1 and "too short for 1 records" in err


def test_trailing_ignore_and_warn(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    with open(trades.path, "ab") as fh:
        fh.write(b"12345")
    args = ("tail", trades.path, "-s", trades.schema, "-n", 1, "--format", "jsonl")
    assert run(capsys, *args)[0] == 1
    code, out, err = run(capsys, *args, "--trailing", "ignore")
    assert code == 0 and err == "" and json.loads(out)["qty"] == int(trades.array["qty"][-1])
    code, out, err = run(capsys, *args, "--trailing", "warn")
    assert code == 0 and json.loads(out)["qty"] == int(trades.array["qty"][-1])
    assert err.startswith("recview tail: warning: ") and "5 stray bytes" in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, _, err = run(capsys, "--debug", "head", trades.path, "-s", "missing.json")
    assert code == 1 and "Traceback" in err
    code, _, err = run(capsys, "head", trades.path, "-s", "missing.json", "--debug")
    assert code == 1 and "Traceback" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["head"],
        ["slice", "x.bin", "-s", "u8"],
        ["head", "x.bin", "-s", "u8", "--offset", "-3"],
        ["head", "x.bin", "-s", "u8", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "error:" in err


def test_no_schema_is_a_usage_error(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, _, err = run(capsys, "head", trades.path)
    assert code == 2 and "needs --schema" in err and "recview guess" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in (
        "info",
        "head",
        "tail",
        "slice",
        "inspect",
        "convert",
        "stats",
        "guess",
        "plot",
    ):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("recview ")


def test_an_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert run(capsys, "head", path, "-s", "u8,f8")[1].splitlines()[0].split() == ["#", "f0", "f1"]
    assert run(capsys, "head", path, "-s", "u8,f8", "--format", "csv")[1] == "f0,f1\n"
    assert json.loads(run(capsys, "tail", path, "-s", "u8,f8", "--format", "json")[1]) == []
    code, out, _ = run(capsys, "stats", path, "-s", "u8,f8", "--format", "json")
    assert code == 0
    assert json.loads(out)["fields"]["f1"] == {
        "type": "<f8", "count": 0, "nan": 0, "min": None, "max": None, "mean": None,
    }  # fmt: skip
    assert run(capsys, "convert", path, "-s", "u8,f8", "-o", tmp_path / "e.npy")[0] == 0
    assert np.load(tmp_path / "e.npy").shape == (0,)
    assert run(capsys, "inspect", path, "-s", "u8,f8")[0] == 2


REPO = Path(__file__).resolve().parents[3]


def _doc_session() -> list[tuple[str, str]]:
    """(command, output) pairs of the console session in docs/cli.md."""
    text = (REPO / "docs" / "cli.md").read_text()
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    pairs: list[tuple[str, str]] = []
    for chunk in block.split("$ recview ")[1:]:
        command, _, output = chunk.partition("\n")
        pairs.append((command, output.rstrip("\n") + "\n"))
    return pairs


def test_docs_session_is_what_the_cli_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deterministic part of the docs/cli.md session (README copies it)."""
    import shlex

    monkeypatch.chdir(REPO)
    monkeypatch.delitem(sys.modules, "samples.schemas", raising=False)
    checked = 0
    for command, expected in _doc_session():
        argv = shlex.split(command)
        if argv[0] not in ("info", "head", "tail", "slice", "inspect"):
            continue
        code, out, err = run(capsys, *argv)
        assert (code, err) == (0, ""), command
        assert out == expected, command
        checked += 1
    assert checked >= 5
