"""``recview dump``: any byte range of any file, checked against ``xxd`` and the
file's bytes, annotated as ``inspect`` annotates records, in O(1) of the offset."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.unit.cli._helpers import run, set_stdin

REPO = Path(__file__).resolve().parents[3]
SENSOR = REPO / "samples" / "sensor.bin"
SENSOR_SCHEMA = str(REPO / "samples" / "sensor.json")
LINE = re.compile(r"^([0-9a-f]{8,})  (?:\+\d+\s+)?((?:[0-9a-f]{2} ?)+)\s*\|")


def dumped_bytes(out: str) -> dict[int, bytes]:
    """Offset -> bytes of every hex line of a dump."""
    got: dict[int, bytes] = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            got[int(m.group(1), 16)] = bytes.fromhex(m.group(2))
    return got


def joined(lines: dict[int, bytes], start: int) -> bytes:
    """The lines' bytes, checked to follow each other from ``start``."""
    pos, parts = start, []
    for off in sorted(lines):
        assert off == pos, (off, pos)
        parts.append(lines[off])
        pos += len(lines[off])
    return b"".join(parts)


@pytest.fixture
def blob(tmp_path: Path) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(np.random.default_rng(5).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return path


@pytest.mark.skipif(shutil.which("xxd") is None, reason="needs xxd")
@pytest.mark.parametrize(("offset", "length"), [(0, 64), (3, 100), (4990, 64), (1000, 1)])
def test_plain_dump_equals_xxd(
    capsys: pytest.CaptureFixture[str], blob: Path, offset: int, length: int
) -> None:
    code, out, err = run(capsys, "dump", blob, "--offset", offset, "--length", length)
    assert code == 0, err
    xxd = subprocess.run(
        ["xxd", "-s", str(offset), "-l", str(length), str(blob)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    expected = {}
    for line in xxd.splitlines():
        where, rest = line.split(": ", 1)
        expected[int(where, 16)] = bytes.fromhex(rest[:40].replace(" ", ""))
    got = dumped_bytes(out)
    assert got == expected
    # The ASCII columns agree too.
    xxd_ascii = [line.split(": ", 1)[1][41:] for line in xxd.splitlines()]
    ours = []
    for line in out.splitlines()[1:]:
        m = LINE.match(line)
        assert m, line
        ours.append(line[m.end() : m.end() + len(bytes.fromhex(m.group(2)))])
    assert ours == xxd_ascii


def test_schema_dump_shows_every_byte_and_inspects_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "dump", SENSOR, "-s", SENSOR_SCHEMA, "--records-at", 64,
        "--offset", 40, "--length", 80,
    )  # fmt: skip
    assert code == 0, err
    data = SENSOR.read_bytes()
    assert joined(dumped_bytes(out), 40) == data[40:120]
    assert "before the records (a header: 64 bytes)" in out
    assert "> record 0  at byte offset 64 (0x40)\n" in out
    assert "> record 2  at byte offset 112 (0x70), bytes 0..7 of it shown" in out
    # The fields of record 1 read as inspect reads them.
    code, ins, err = run(capsys, "inspect", SENSOR, "-s", SENSOR_SCHEMA, "--offset", 64,
                         "--record", 1, "--context", 0)  # fmt: skip
    assert code == 0, err

    def fields(text: str, heading: str) -> list[list[str]]:
        block = text.split(heading, 1)[1].split("\n\n")[0]
        return [line.split("|")[-1].split() for line in block.splitlines()[1:]]

    assert fields(out, "> record 1 ") == fields(ins, "> record 1 ")


def test_a_field_cut_by_the_range_is_marked_partial(capsys: pytest.CaptureFixture[str]) -> None:
    # ts is bytes 64..71 of the file: show 68..75.
    code, out, err = run(
        capsys, "dump", SENSOR, "-s", SENSOR_SCHEMA, "--records-at", 64,
        "--offset", 68, "--length", 8,
    )  # fmt: skip
    assert code == 0, err
    ts = int.from_bytes(SENSOR.read_bytes()[64:72], "big")
    assert f"ts           >u8   (part of the field: {ts})" in out
    assert joined(dumped_bytes(out), 68) == SENSOR.read_bytes()[68:76]


def test_file_smaller_than_a_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "short.bin"
    path.write_bytes(b"ABCDEFGHIJ")
    code, out, err = run(capsys, "dump", path, "-s", "u8,f8,u8,u8")
    assert code == 0, err
    assert "bytes 0..9 (0x0..0x9) of 10; records of 32 bytes from byte 0" in out
    assert "after the records: 10 bytes, less than a record of 32" in out
    assert joined(dumped_bytes(out), 0) == b"ABCDEFGHIJ"


def test_bytes_after_count_records_are_labelled(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "t.bin"
    body = np.arange(6, dtype="<u4").tobytes() + b"TRAILER!"
    path.write_bytes(b"HDR!" + body)
    code, out, err = run(
        capsys, "dump", path, "-s", "<u4", "--records-at", 4, "--count", 6, "--length", "1K"
    )
    assert code == 0, err
    assert "before the records (a header: 4 bytes)" in out
    assert "> record 5  at byte offset 24 (0x18)" in out
    assert "> record 6" not in out
    assert "after the 6 records" in out
    assert joined(dumped_bytes(out), 0) == path.read_bytes()


def test_negative_offset_counts_from_the_end(
    capsys: pytest.CaptureFixture[str], blob: Path
) -> None:
    code, out, err = run(capsys, "dump", blob, "--offset", -20)
    assert code == 0, err
    assert joined(dumped_bytes(out), 4980) == blob.read_bytes()[-20:]


def test_standard_input_is_skipped_forward(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, blob: Path
) -> None:
    data = blob.read_bytes()
    set_stdin(monkeypatch, data)
    code, out, err = run(capsys, "dump", "-", "--offset", "0x100", "--length", 50)
    assert code == 0, err
    assert out.startswith("<stdin>: bytes 256..305")
    assert joined(dumped_bytes(out), 256) == data[256:306]
    set_stdin(monkeypatch, data)
    code, _, err = run(capsys, "dump", "-", "--offset", -5)
    assert code == 2
    assert "negative --offset needs a file" in err


def test_sizes_accept_suffixes(capsys: pytest.CaptureFixture[str], blob: Path) -> None:
    code, out, err = run(capsys, "dump", blob, "--offset", "4K", "--length", "0.5KiB")
    assert code == 0, err
    assert joined(dumped_bytes(out), 4096) == blob.read_bytes()[4096:4608]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (("--offset", "6000"), 2, r"--offset 6,000 is past the end of .*blob.bin \(5,000 bytes\)"),
        (("--records-at", "4"), 2, "give --schema/-s too"),
        (("--length", "-1"), 2, "must be >= 0"),
        (("--offset", "12 parsecs"), 2, "not a size"),
    ],
)
def test_errors(
    capsys: pytest.CaptureFixture[str], blob: Path, argv: tuple[str, ...], status: int, message: str
) -> None:
    code, out, err = run(capsys, "dump", blob, *argv)
    assert code == status
    assert out == ""
    assert re.search(message, err), err


def test_missing_file_and_directory_are_data_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "dump", tmp_path / "nope.bin")
    assert code == 1
    assert "nope.bin: No such file or directory" in err
    code, _, err = run(capsys, "dump", tmp_path)
    assert code == 1
    assert "Is a directory" in err


def test_offset_100_gib_of_a_sparse_file_costs_what_offset_0_costs(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("sparse") / "big.bin"
    far = 100 << 30
    with open(path, "wb") as f:
        f.write(b"start of the file")
        f.seek(far)
        f.write(np.arange(8, dtype="<u8").tobytes())
    try:

        def timed(*argv: object) -> tuple[float, str]:
            t0 = time.perf_counter()
            code, out, err = run(capsys, "dump", path, *argv)
            assert code == 0, err
            return time.perf_counter() - t0, out

        near, far_t = [], []
        for _ in range(5):
            near.append(timed("--offset", 0, "--length", 64)[0])
            dt, out = timed("-s", "<u8", "--offset", "100GiB", "--length", 64)
            far_t.append(dt)
        assert "> record 13,421,772,803  at byte offset 107,374,182,424" in out
        assert joined(dumped_bytes(out), far) == np.arange(8, dtype="<u8").tobytes()
        assert statistics.median(far_t) < 5 * statistics.median(near) + 0.05
    finally:
        path.unlink()


def test_bitfields_show_under_their_storage_as_inspect_shows_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = tmp_path / "flags.py"
    module.write_text(
        "import recview as rv\n"
        "class R(rv.Record):\n"
        "    id: rv.u32\n"
        "    flags: rv.bits(rv.u16, fin=1, syn=1, _=2, ack=1, rest=11)\n"
        "    z: rv.u16\n"
    )
    path = tmp_path / "r.bin"
    path.write_bytes(b"".join(i.to_bytes(4, "little") + (0x12 + i).to_bytes(2, "little")
                              + bytes(2) for i in range(3)))  # fmt: skip
    spec = f"{module}:R"
    code, out, err = run(capsys, "dump", path, "-s", spec, "--offset", 8, "--length", 8)
    assert code == 0, err
    code, ins, err = run(capsys, "inspect", path, "-s", spec, "--record", 1, "--context", 0)
    assert code == 0, err

    def fields(text: str) -> list[list[str]]:
        block = text.split("> record 1 ", 1)[1].split("\n\n")[0]
        return [line.split("|")[-1].split() for line in block.splitlines()[1:]]

    assert fields(out) == fields(ins)
    assert ["flags.syn", "bit", "1", "1"] in fields(out)  # 0x13 = 0b10011
    assert ["flags.fin", "bit", "0", "1"] in fields(out)
