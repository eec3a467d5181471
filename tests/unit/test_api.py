"""The public names of shared/API.md are exactly recview's ``__all__``, and
`import recview` stays light.

``CONTRACT`` is the contract's list: every ``rv.NAME`` that API.md writes,
and the type atoms its declarative-class row spells out (``i8`` .. ``f64``,
numpy's ``f2 f4 f8``, each also with a ``be``/``le`` suffix). ``EXTRAS`` are
the exports the contract leaves to the implementer, each with its reason; any
other name in ``__all__`` is an accidental export and fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import recview as rv

API_MD = Path("/work/shared/API.md")

ATOMS = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f16", "f32", "f64",
         "f2", "f4", "f8"]  # fmt: skip
CONTRACT = sorted(
    {
        "BufferPool",
        "ClosedError",
        "FieldInfo",
        "LayoutError",
        "LayoutWarning",
        "Record",
        "RecviewError",
        "Schema",
        "SchemaError",
        "TruncatedError",
        "array",
        "bits",
        "bytes_",
        "open",
        "open_frames",
        "pad",
        "sql",
        "stream",
        *(atom + suffix for atom in ATOMS for suffix in ("", "be", "le")),
    }
)
EXTRAS = {
    "formats": "the framed-record presets rv.formats.pcap and rv.formats.fortran (docs/frames.md)",
    "Frames": "the type open_frames() returns (API.md's 'frames' table describes it)",
    "View": "the type open() returns, for annotations and isinstance",
    "GuardWarning": "errors.py: mode='mmap' fell back to 'pread' (no SIGBUS guard)",
    "as_schema": "what every schema= parameter accepts, for callers' own functions",
    "to_parquet": "interop: a view or batches to a Parquet file",
}


def test_all_is_exactly_the_contract_and_the_documented_extras() -> None:
    assert rv.__all__ == sorted([*CONTRACT, *EXTRAS])
    for name in rv.__all__:
        assert hasattr(rv, name), name


@pytest.mark.skipif(not API_MD.is_file(), reason="shared/API.md is outside the repository")
def test_contract_list_is_the_one_in_api_md() -> None:
    text = API_MD.read_text(encoding="utf-8")
    named = set(re.findall(r"\brv\.([A-Za-z_]\w*)", text))
    row = re.search(r"sized in bits: `([^`]*)`, with `([^`]*)`", text)
    assert row is not None
    atoms = row.group(1).split() + row.group(2).split()
    assert atoms == ATOMS
    assert "unless suffixed `be`" in text and "or `le`" in text
    assert named | {a + x for a in atoms for x in ("", "be", "le")} == set(CONTRACT)


def test_schema_members():
    s = rv.Schema.from_dtype([("a", "<u4")])
    for name in (
        "dtype",
        "itemsize",
        "names",
        "to_json",
        "to_construct",
        "from_dtype",
        "from_construct",
        "from_c",
        "from_json",
        "fields",
        "get",
    ):
        assert hasattr(s, name), name


def test_error_hierarchy():
    for exc in (rv.SchemaError, rv.LayoutError, rv.TruncatedError, rv.ClosedError):
        assert issubclass(exc, rv.RecviewError)
    assert issubclass(rv.LayoutWarning, UserWarning)
    assert issubclass(rv.SchemaError, ValueError)
    assert issubclass(rv.LayoutError, ValueError)
    assert issubclass(rv.TruncatedError, OSError)


def test_core_import_does_not_pull_heavy_extras():
    code = (
        "import sys, recview\n"
        "heavy = {'pyarrow', 'pandas', 'dask', 'distributed', 'matplotlib', 'tqdm', 'hypothesis'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
