"""The public names of shared/API.md exist, and `import recview` stays light."""

from __future__ import annotations

import subprocess
import sys

import recview as rv

CONTRACT = [
    "BufferPool",
    "ClosedError",
    "LayoutError",
    "LayoutWarning",
    "Record",
    "RecviewError",
    "Schema",
    "SchemaError",
    "TruncatedError",
    "open",
    "stream",
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
    "f16",
    "f32",
    "f64",
    "f2",
    "f4",
    "f8",
    "u32be",
    "f4be",
    "u32le",
    "bytes_",
    "pad",
    "array",
    "bits",
    "FieldInfo",
    "open_frames",
    "Frames",
    "formats",
]


def test_contract_names_are_exported():
    missing = [n for n in CONTRACT if not hasattr(rv, n)]
    assert missing == []


def test_all_is_sorted_and_complete():
    assert rv.__all__ == sorted(rv.__all__)
    assert set(CONTRACT) <= set(rv.__all__)
    for name in rv.__all__:
        assert hasattr(rv, name), name


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
