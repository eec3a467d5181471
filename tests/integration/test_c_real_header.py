"""Records described by a real-world C header, written by real C code.

* ``samples/c_utmp.h`` (glibc's ``struct utmp``, adapted to stand alone): a C
  program compiled here includes the header, writes records with known values
  with ``fwrite``, and recview reads them back through
  ``rv.Schema.from_c(header, "utmp")`` and checks every field.
* The system's own ``<bits/utmp.h>``, read as it is installed: glibc's
  ``updwtmp()`` appends the records (the code ``login``/``sshd`` use for
  ``/var/log/wtmp``), and recview reads them with the schema it builds from
  that header.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import recview as rv
from recview._c import parse_c

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler ('cc') on PATH")

HEADER = Path(__file__).resolve().parents[2] / "samples" / "c_utmp.h"
COUNT = 25

# Fills `struct utmp u` number i; expected() below computes the same values.
FILL = r"""
    memset(&u, 0, sizeof u);
    u.ut_type = (short)(i % 9 + 1);
    u.ut_pid = 1000 + 7 * i;
    snprintf(u.ut_line, sizeof u.ut_line, "pts/%d", i);
    memcpy(u.ut_id, "ts", 2); u.ut_id[2] = (char)('0' + i % 10); u.ut_id[3] = 'z';
    snprintf(u.ut_user, sizeof u.ut_user, "user%03d", i);
    snprintf(u.ut_host, sizeof u.ut_host, "host-%d.example.org", i);
    u.ut_exit.e_termination = (short)-i;
    u.ut_exit.e_exit = (short)(3 * i);
    u.ut_session = 50000 + i;
    u.ut_tv.tv_sec = 1700000000 + 60 * i;
    u.ut_tv.tv_usec = 1001 * i;
    for (int k = 0; k < 4; k++) u.ut_addr_v6[k] = (int32_t)(0x01020304 * (k + 1) + i);
"""


def expected(i: int) -> dict[str, Any]:
    return {
        "ut_type": i % 9 + 1,
        "ut_pid": 1000 + 7 * i,
        "ut_line": f"pts/{i}".encode(),
        "ut_id": b"ts" + str(i % 10).encode() + b"z",
        "ut_user": f"user{i:03d}".encode(),
        "ut_host": f"host-{i}.example.org".encode(),
        "ut_exit.e_termination": -i,
        "ut_exit.e_exit": 3 * i,
        "ut_session": 50000 + i,
        "ut_tv.tv_sec": 1700000000 + 60 * i,
        "ut_tv.tv_usec": 1001 * i,
        "ut_addr_v6": [0x01020304 * (k + 1) + i for k in range(4)],
    }


def build_and_run(tmp_path: Path, program: str, *args: str) -> str:
    src = tmp_path / "writer.c"
    exe = tmp_path / "writer"
    src.write_text(program)
    assert CC is not None
    built = subprocess.run(
        [CC, "-std=gnu17", "-Wall", "-I", str(HEADER.parent), "-o", str(exe), str(src)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(exe), *args], check=True, capture_output=True, text=True, timeout=60)
    return ran.stdout


def check_every_field(view: rv.View, layout_sizes: dict[str, tuple[int, int]]) -> None:
    assert len(view) == COUNT
    for i in range(COUNT):
        want = expected(i)
        record = view[i]
        for path, value in want.items():
            got = record
            for part in path.split("."):
                got = got[part]
            if isinstance(value, list):
                assert got.tolist() == value, (i, path)
            else:
                assert got == value, (i, path)
        assert record["__glibc_reserved"] == b""
    # whole columns, zero-copy, through nested names
    assert view["ut_tv"]["tv_sec"].tolist() == [1700000000 + 60 * i for i in range(COUNT)]
    assert np.shares_memory(view["ut_user"], view.array)
    # and every field where the compiler put it
    for field in view.schema.fields():
        offset, size = layout_sizes[field.path]
        assert (field.offset, field.dtype.itemsize * int(np.prod(field.shape))) == (offset, size)


LAYOUT_PRINTS = r"""
#define SHOW(f) printf("%s %zu %zu\n", #f, offsetof(struct utmp, f), sizeof(((struct utmp *)0)->f))
static void show_layout(void) {
    printf("sizeof %zu %zu\n", sizeof(struct utmp), _Alignof(struct utmp));
    SHOW(ut_type); SHOW(ut_pid); SHOW(ut_line); SHOW(ut_id); SHOW(ut_user); SHOW(ut_host);
    SHOW(ut_exit.e_termination); SHOW(ut_exit.e_exit); SHOW(ut_session);
    SHOW(ut_tv.tv_sec); SHOW(ut_tv.tv_usec); SHOW(ut_addr_v6); SHOW(__glibc_reserved);
}
"""


def parse_layout(stdout: str) -> tuple[int, dict[str, tuple[int, int]]]:
    sizes = {}
    for line in stdout.splitlines():
        name, a, b = line.split()
        sizes[name] = (int(a), int(b))
    return sizes.pop("sizeof")[0], sizes


def test_records_written_by_c_through_the_sample_header(tmp_path: Path) -> None:
    program = (
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stddef.h>\n"
        '#include "c_utmp.h"\n' + LAYOUT_PRINTS + "int main(int argc, char **argv) {\n"
        '    FILE *f = fopen(argv[1], "wb");\n    struct utmp u;\n'
        "    for (int i = 0; i < atoi(argv[2]); i++) {\n" + FILL + "\n"
        "        memset(u.__glibc_reserved, 0, sizeof u.__glibc_reserved);\n"
        "        if (fwrite(&u, sizeof u, 1, f) != 1) return 1;\n    }\n"
        "    fclose(f);\n    show_layout();\n    return 0;\n}\n"
    )
    path = tmp_path / "wtmp"
    sizeof, sizes = parse_layout(build_and_run(tmp_path, program, str(path), str(COUNT)))
    header = HEADER.read_text()
    schema = rv.Schema.from_c(header, "utmp")
    assert schema.itemsize == sizeof == 384
    assert path.stat().st_size == COUNT * 384
    with rv.open(path, schema) as view:
        check_every_field(view, sizes)
        # the same bytes through the plain dtype
        assert np.array_equal(np.fromfile(path, dtype=parse_c(header, "utmp").dtype), view.array)


def test_lastlog_from_the_same_header_needs_its_name(tmp_path: Path) -> None:
    header = HEADER.read_text()
    with pytest.raises(rv.SchemaError, match="defines 3 structs/unions: lastlog"):
        rv.Schema.from_c(header)
    schema = rv.Schema.from_c(header, "struct lastlog")
    assert schema.itemsize == 4 + 32 + 256
    records = np.zeros(3, dtype=schema.dtype)
    records["ll_time"] = [10, 20, 30]
    records["ll_host"] = [b"a", b"bb", b"ccc"]
    path = tmp_path / "lastlog"
    records.tofile(path)
    with rv.open(path, schema) as view:
        assert view["ll_time"].tolist() == [10, 20, 30]
        assert view["ll_host"].tolist() == [b"a", b"bb", b"ccc"]


def system_utmp_header() -> tuple[str, str] | None:
    """The installed <bits/utmp.h> and the value glibc gives
    __WORDSIZE_TIME64_COMPAT32 on this platform, or None without glibc."""
    assert CC is not None
    deps = subprocess.run(
        [CC, "-M", "-x", "c", "-"], input="#include <utmp.h>\n", check=False,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    found = [p for p in deps.stdout.split() if p.endswith("bits/utmp.h")]
    if deps.returncode != 0 or not found:
        return None
    macros = subprocess.run(
        [CC, "-dM", "-E", "-x", "c", "-"], input="#include <utmp.h>\n", check=True,
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    m = re.search(r"#define __WORDSIZE_TIME64_COMPAT32 (\d+)", macros)
    return Path(found[0]).read_text(), m.group(1) if m else "0"


def test_records_written_by_glibc_updwtmp_through_the_system_header(tmp_path: Path) -> None:
    system = system_utmp_header()
    if system is None:
        pytest.skip("no glibc <utmp.h> here; the sample header test covers the feature")
    text, compat = system
    if compat != "1":
        pytest.skip("this glibc lays out ut_tv as struct timeval; the sample header covers it")
    # what <utmp.h> would have defined before including <bits/utmp.h>
    source = f"#define _UTMP_H 1\n#define __WORDSIZE_TIME64_COMPAT32 {compat}\n{text}"
    program = (
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stddef.h>\n"
        "#include <utmp.h>\n" + LAYOUT_PRINTS + "int main(int argc, char **argv) {\n"
        "    struct utmp u;\n    for (int i = 0; i < atoi(argv[2]); i++) {\n"
        + FILL
        + "\n        updwtmp(argv[1], &u);\n    }\n    show_layout();\n    return 0;\n}\n"
    )
    path = tmp_path / "wtmp"
    path.touch()  # updwtmp appends to an existing file
    sizeof, sizes = parse_layout(build_and_run(tmp_path, program, str(path), str(COUNT)))
    schema = rv.Schema.from_c(source, "utmp")
    assert schema.itemsize == sizeof
    with rv.open(path, schema) as view:
        check_every_field(view, sizes)
