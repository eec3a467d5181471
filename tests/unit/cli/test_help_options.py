"""Options spelled one way in every command: sizes with suffixes (``--batch-nbytes
1MiB``, ``--offset 4K``) and ``--trailing ignore|warn|error``, which the hints use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recview.cli import main
from recview.cli._common import parse_nbytes
from tests.unit.cli._helpers import run

REPO = Path(__file__).resolve().parents[3]
RECORD_COMMANDS = ["info", "head", "tail", "inspect", "stats", "convert", "plot", "sql"]


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("4096", 4096), ("0x1000", 4096), ("4K", 4096), ("4k", 4096), ("4KiB", 4096),
        ("1MiB", 1 << 20), ("64M", 64 << 20), ("1G", 1 << 30), ("2GiB", 2 << 30),
        ("1T", 1 << 40), ("10MB", 10_000_000), ("1kB", 1000), ("1.5K", 1536),
        ("0.5MiB", 1 << 19), ("1_000", 1000), ("12B", 12), (" 8 K ", 8192),
    ],
)  # fmt: skip
def test_parse_nbytes(text: str, nbytes: int) -> None:
    assert parse_nbytes(text) == nbytes


@pytest.mark.parametrize("text", ["", "K", "1.3", "1.0001K", "12 parsecs", "1e6", "0x", "1KK"])
def test_parse_nbytes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_nbytes(text)


@pytest.fixture
def sensor_args() -> list[str]:
    return [str(REPO / "samples/sensor.bin"), "-s", str(REPO / "samples/sensor.json")]


def test_batch_nbytes_and_offset_take_suffixes(
    capsys: pytest.CaptureFixture[str], sensor_args: list[str]
) -> None:
    code, plain, err = run(capsys, "stats", *sensor_args, "--offset", 64, "--format", "json",
                           "--batch-nbytes", 1024)  # fmt: skip
    assert code == 0, err
    for batch in ("1K", "1KiB", "0x400"):
        code, out, err = run(capsys, "stats", *sensor_args, "--offset", "0x40", "--format",
                             "json", "--batch-nbytes", batch)  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["fields"] == json.loads(plain)["fields"]


@pytest.mark.parametrize(
    "argv",
    [
        ["stats", "--offset", "64", "--batch-nbytes", "1MiB"],
        ["convert", "--offset", "64", "-o", "-", "--to", "csv", "--batch-nbytes", "64M"],
        ["head", "--offset", "64B"],
        ["info", "--offset", "0.0625K"],
    ],
)
def test_size_options_accept_suffixes_in_every_command(
    capsys: pytest.CaptureFixture[str], sensor_args: list[str], argv: list[str]
) -> None:
    code, _out, err = run(capsys, argv[0], *sensor_args, *argv[1:])
    assert code == 0, err


def test_a_bad_size_is_a_usage_error_saying_what_sizes_look_like(
    capsys: pytest.CaptureFixture[str], sensor_args: list[str]
) -> None:
    code, out, err = run(capsys, "stats", *sensor_args, "--offset", "64", "--batch-nbytes", "lots")
    assert code == 2
    assert out == ""
    assert "not a size: 'lots' (a byte count such as 4096, 0x1000, 64K, 1MiB, 10MB)" in err
    code, _, err = run(capsys, "stats", *sensor_args, "--batch-nbytes", "0K")
    assert code == 2
    assert "must be > 0" in err


@pytest.mark.parametrize("command", RECORD_COMMANDS)
def test_every_record_command_spells_trailing_the_same(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--trailing {error,ignore,warn}" in text


@pytest.mark.parametrize("command", ["head", "stats", "sql"])
def test_stray_bytes_hint_names_the_cli_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    path = tmp_path / "stray.bin"
    path.write_bytes(np.arange(9, dtype="<u8").tobytes() + b"abc")
    extra = ["select count(*) from t"] if command == "sql" else []
    code, out, err = run(capsys, command, path, "-s", "u8", *extra)
    assert code == 1, (out, err)
    assert "3 stray bytes" in err
    assert "(use --trailing ignore or warn)" in err
    assert "trailing=" not in err
    code, out, err = run(capsys, command, path, "-s", "u8", "--trailing", "ignore", *extra)
    assert code == 0, err
