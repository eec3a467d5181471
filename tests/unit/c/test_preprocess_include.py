"""``#include`` in C headers: quoted includes followed
relative to the including file and to ``include_dirs`` (``-I``), ``cpp=True``
(``--cpp``) running the system preprocessor for ``<system>`` includes, and the
errors for missing files, cycles and dropped system headers.

Layouts are checked against the C compiler itself (``cc`` compiling the same
headers with the same ``-I`` options) where one is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.cli import main
from recview.errors import SchemaError

CC = shutil.which("cc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler on PATH")


def compiler_layout(source: str, record: str, members: list[str], include_dirs: list[Path],
                    tmp_path: Path) -> tuple[int, list[int]]:  # fmt: skip
    """sizeof(record) and offsetof of each member, as ``cc`` lays them out."""
    assert CC is not None
    prints = "".join(f'printf("%zu\\n", offsetof({record}, {m}));\n' for m in members)
    program = tmp_path / "probe.c"
    program.write_text(
        "#include <stdio.h>\n#include <stddef.h>\n" + source
        + f'\nint main(void) {{ printf("%zu\\n", sizeof({record}));\n{prints}return 0; }}\n'
    )  # fmt: skip
    exe = tmp_path / "probe"
    argv = [CC, "-o", str(exe), str(program)]
    for d in include_dirs:
        argv += ["-I", str(d)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=30)
    numbers = [int(x) for x in out.stdout.split()]
    return numbers[0], numbers[1:]


def offsets(schema: rv.Schema, members: list[str]) -> list[int]:
    by_path = {f.path: f.offset for f in schema.fields()}
    return [by_path[m] for m in members]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """main.h includes "sub/vec.h" (found in an -I dir), which includes "scalar.h"
    beside itself; an -I dir later in the list holds a decoy scalar.h."""
    (tmp_path / "inc" / "sub").mkdir(parents=True)
    (tmp_path / "decoy").mkdir()
    (tmp_path / "inc" / "sub" / "vec.h").write_text(
        '#ifndef VEC_H\n#define VEC_H\n#include "scalar.h"\n'
        "struct vec { scalar_t x, y, z; };\n#endif\n"
    )
    (tmp_path / "inc" / "sub" / "scalar.h").write_text(
        "#pragma once\ntypedef double scalar_t;\n#define NAME_LEN 5\n"
    )
    (tmp_path / "decoy" / "scalar.h").write_text("typedef char scalar_t;\n")
    (tmp_path / "hdr").mkdir()
    (tmp_path / "hdr" / "main.h").write_text(
        '#include <stdint.h>\n#include "sub/vec.h"\n#include "sub/vec.h"\n'
        '#include "sub/scalar.h"\n'
        "struct particle { uint8_t kind; struct vec pos; char name[NAME_LEN]; };\n"
    )
    return tmp_path


def test_quoted_includes_follow_the_including_file_then_include_dirs(tree: Path) -> None:
    source = (tree / "hdr" / "main.h").read_text()
    dirs = [tree / "inc", tree / "decoy"]
    schema = rv.Schema.from_c(source, include_dirs=dirs)
    members = ["kind", "pos.x", "pos.z", "name"]
    if CC is not None:
        size, offs = compiler_layout(source, "struct particle", members, dirs, tree)
        assert (schema.itemsize, offsets(schema, members)) == (size, offs)
    # vec.h's "scalar.h" is its neighbour (double), not the decoy (char)
    assert schema.dtype["pos"]["x"] == np.dtype("<f8")
    assert schema.dtype["name"] == np.dtype("S5")
    # the record chosen without name= is the one main.h defines, not struct vec
    assert schema.names == ("kind", "pos", "name")


def test_include_dirs_are_searched_in_order(tree: Path) -> None:
    source = '#include "scalar.h"\nstruct s { scalar_t v; };'
    first = rv.Schema.from_c(source, include_dirs=[tree / "decoy", tree / "inc" / "sub"])
    second = rv.Schema.from_c(source, include_dirs=[tree / "inc" / "sub", tree / "decoy"])
    assert first.dtype["v"] == np.dtype("S1")
    assert second.dtype["v"] == np.dtype("<f8")


def test_a_missing_quoted_include_names_the_file_and_line(tree: Path) -> None:
    (tree / "inc" / "bad.h").write_text('/* one */\n#include "nope.h"\n')
    with pytest.raises(SchemaError) as info:
        rv.Schema.from_c('#include "bad.h"\nstruct s { int a; };', include_dirs=[tree / "inc"])
    bad = os.path.normpath(tree / "inc" / "bad.h")
    assert str(info.value) == (
        f'line 2 of {bad}: #include "nope.h": file not found (searched {tree / "inc"}); '
        "pass include_dirs=[DIR] with the directory that holds it"
    )
    with pytest.raises(SchemaError, match=r'^line 1: #include "bad.h": file not found \(searched'
                       r" no directory: the source is text\)"):  # fmt: skip
        rv.Schema.from_c('#include "bad.h"\nstruct s { int a; };')


def test_an_include_cycle_is_an_error_naming_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.h").write_text('struct a { int x; };\n#include "b.h"\n')
    (tmp_path / "b.h").write_text('/* b */\n\n#include "a.h"\n')
    with pytest.raises(SchemaError) as info:
        rv.Schema.from_c('#include "a.h"\n', include_dirs=[tmp_path])
    a, b = os.path.normpath(tmp_path / "a.h"), os.path.normpath(tmp_path / "b.h")
    assert str(info.value).startswith(
        f'line 3 of {b}: #include "a.h" is a cycle ({a} -> {b} -> {a}); give the header an '
        "include guard"
    )
    # with guards, headers that include each other are fine, as in C
    (tmp_path / "a.h").write_text('#ifndef A_H\n#define A_H\n#include "b.h"\n'
                                  "struct a { struct b *p; int x; };\n#endif\n")  # fmt: skip
    (tmp_path / "b.h").write_text('#ifndef B_H\n#define B_H\n#include "a.h"\n'
                                  "struct b { short y; };\n#endif\n")  # fmt: skip
    assert rv.Schema.from_c('#include "a.h"\n', "a", include_dirs=[tmp_path]).itemsize == 16


def test_errors_in_an_included_file_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "t.h").write_text("struct t {\n    int a;\n    mystery_t b;\n};\n")
    with pytest.raises(SchemaError) as info:
        rv.Schema.from_c('#include "t.h"\nstruct r { struct t t; };', include_dirs=[tmp_path])
    where = os.path.normpath(tmp_path / "t.h")
    assert str(info.value).startswith(f"field 't.b' (line 3 of {where}): unknown C type")
    (tmp_path / "u.h").write_text("#if 1\nstruct u { int a; };\n")
    with pytest.raises(SchemaError, match=rf"^line 1 of {where[:-3]}u\.h: #if without"):
        rv.Schema.from_c('#include "u.h"\n#endif\n', include_dirs=[tmp_path])


def test_pragma_pack_in_an_included_file_applies_after_it(tmp_path: Path) -> None:
    (tmp_path / "pack.h").write_text("#pragma pack(push, 1)\n")
    (tmp_path / "unpack.h").write_text("#pragma pack(pop)\n")
    source = ('#include "pack.h"\nstruct p { char c; int i; };\n#include "unpack.h"\n'
              "struct q { char c; int i; };\n")  # fmt: skip
    dirs = [tmp_path]
    for name in ("p", "q"):
        schema = rv.Schema.from_c(source, name, include_dirs=dirs)
        if CC is not None:
            size, offs = compiler_layout(source, f"struct {name}", ["i"], dirs, tmp_path)
            assert (schema.itemsize, offsets(schema, ["i"])) == (size, offs)
        assert schema.itemsize == (5 if name == "p" else 8)


def test_a_changed_include_is_read_again(tmp_path: Path) -> None:
    header = tmp_path / "n.h"
    header.write_text("#define N 2\n")
    source = '#include "n.h"\nstruct s { char x[N]; };'
    assert rv.Schema.from_c(source, include_dirs=[tmp_path]).itemsize == 2
    header.write_text("#define N 12\n")
    assert rv.Schema.from_c(source, include_dirs=[tmp_path]).itemsize == 12


def test_dropped_system_include_is_named_with_the_cpp_hint() -> None:
    source = "#include <stdint.h>\n#include <time.h>\nstruct r { uint64_t a; struct timespec t; };"
    with pytest.raises(SchemaError) as info:
        rv.Schema.from_c(source)
    message = str(info.value)
    assert message.startswith("field 't' (line 3): incomplete type 'struct timespec'")
    assert "dropped #include <time.h> (line 2): pass cpp=True" in message
    assert "<stdint.h>" not in message  # recview knows its types: no loss
    # a header of known types only: no hint to mislead
    with pytest.raises(SchemaError) as info:
        rv.Schema.from_c("#include <stdint.h>\nstruct r { foo_t a; };")
    assert "cpp=True" not in str(info.value)


@needs_cc
def test_cpp_reads_system_headers_as_the_compiler_does(tmp_path: Path) -> None:
    source = (
        "#include <stdint.h>\n#include <time.h>\n#include <sys/socket.h>\n"
        "struct r { uint8_t k; struct timespec t; struct sockaddr_storage peer; };\n"
    )
    schema = rv.Schema.from_c(source, cpp=True)  # struct r: the one the source defines
    members = ["k", "t.tv_sec", "t.tv_nsec", "peer.ss_family"]
    size, offs = compiler_layout(source, "struct r", members, [], tmp_path)
    assert (schema.itemsize, offsets(schema, members)) == (size, offs)
    # a line of the source is still named by its own line number
    with pytest.raises(SchemaError, match=r"^field 'bad' \(line 3\): unknown C type 'nope_t'"):
        rv.Schema.from_c("#include <time.h>\n\nstruct r { nope_t bad; };", cpp=True)


def test_cpp_without_a_compiler_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "/nonexistent/recview-no-cc")
    with pytest.raises(SchemaError, match="not on PATH"):
        rv.Schema.from_c("struct s { int a; };", cpp=True)


@needs_cc
def test_cpp_failure_is_one_schema_error() -> None:
    with pytest.raises(SchemaError, match=r"system preprocessor .* failed \(exit 1\): .*nope\.h"):
        rv.Schema.from_c('#include "nope.h"\nstruct s { int a; };', cpp=True)


# -- the command line -----------------------------------------------------------


def test_cli_follows_includes_beside_the_header_and_from_dash_i(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = rv.Schema.from_c((tree / "hdr" / "main.h").read_text(), include_dirs=[tree / "inc"])
    data = np.zeros(3, schema.dtype)
    data["pos"]["y"] = [1.5, 2.5, 3.5]
    path = tree / "p.bin"
    data.tofile(path)
    # hdr/main.h includes "sub/vec.h": not beside it, so -I inc is needed
    code = main(["info", str(path), "-s", str(tree / "hdr" / "main.h")])
    err = capsys.readouterr().err
    assert code == 1
    assert '#include "sub/vec.h": file not found' in err and "pass -I DIR" in err
    code = main(["head", str(path), "-s", str(tree / "hdr" / "main.h"), "-I", str(tree / "inc"),
                 "--format", "csv", "--fields", "pos.y"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.split() == ["pos.y", "1.5", "2.5", "3.5"]


def test_cli_names_the_dropped_include_and_suggests_cpp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = tmp_path / "r.h"
    header.write_text("#include <time.h>\nstruct r { struct timespec t; };\n")
    (tmp_path / "r.bin").write_bytes(bytes(32))
    code = main(["info", str(tmp_path / "r.bin"), "-s", str(header)])
    err = capsys.readouterr().err
    assert code == 1
    assert "dropped #include <time.h> (line 1): use --cpp" in err


@needs_cc
def test_cli_cpp_in_a_subprocess(tmp_path: Path) -> None:
    header = tmp_path / "r.h"
    header.write_text("#include <time.h>\nstruct r { struct timespec t; int id; };\n")
    schema = rv.Schema.from_c(header.read_text(), cpp=True)
    data = np.zeros(4, schema.dtype)
    data["id"] = [7, 8, 9, 10]
    data.tofile(tmp_path / "r.bin")
    done = subprocess.run(
        [sys.executable, "-m", "recview", "head", str(tmp_path / "r.bin"), "-s", str(header),
         "--cpp", "--format", "csv", "--fields", "id"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["id", "7", "8", "9", "10"]
