"""Bad input, fuzzed: only the documented errors escape, and nothing big is allocated.

- ``Schema.from_json`` gets random bytes, random text, random JSON documents
  (``st.recursive``) and mutated valid documents: only ``SchemaError`` escapes
  (or a valid schema comes back, which then round-trips), and it never runs
  code (an audit hook watches for ``exec``/``compile``/processes meanwhile).
- ``Schema.from_dtype`` gets ``hypothesis.extra.numpy`` dtypes and garbage
  specs: a valid schema that keeps the layout, or ``SchemaError``.
- ``rv.open`` and the view get random files, offsets, counts, policies,
  indices, slices, batch sizes and field names: only ``RecviewError``
  subclasses or the documented built-ins (``FileNotFoundError``,
  ``IsADirectoryError``, ``IndexError``, ``KeyError``, ``TypeError``,
  ``ValueError``) escape, with messages naming what was wrong, and a ``count``
  far beyond the file is a ``LayoutError``, never a huge allocation.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.extra import numpy as hnp

import recview as rv
from tests.strategies import field_names, schemas, temp_file

T = TypeVar("T")

# Bytes that calls on a file of at most a few hundred bytes may allocate.
SMALL = 2 << 20


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

_CODE_EVENTS = frozenset(
    {"exec", "compile", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
     "subprocess.Popen", "ctypes.dlopen", "builtins.input", "pickle.find_class"}
)  # fmt: skip
_watch: list[list[str]] = []
_hook_installed = False


def note(what: str) -> None:
    """``hypothesis.event``, also callable from plain (parametrized) tests."""
    if currently_in_test_context():
        event(what)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _watch or event not in _CODE_EVENTS:
        return
    # A module imported lazily (json.loads of bytes looks up the utf-16/32
    # codecs on first use) runs that module's code, from its file: not data.
    if event == "exec" and os.path.isfile(getattr(args[0], "co_filename", "")):
        return
    if event == "compile" and isinstance(args[1], str) and os.path.isfile(args[1]):
        return
    _watch[-1].append(f"{event}{args!r:.80}")


@contextlib.contextmanager
def no_code_runs() -> Iterator[None]:
    """Fail if code is compiled, executed or spawned inside the block."""
    global _hook_installed
    if not _hook_installed:  # audit hooks cannot be removed: install one, gated
        sys.addaudithook(_audit)
        _hook_installed = True
    events: list[str] = []
    _watch.append(events)
    try:
        yield
    finally:
        _watch.pop()
    assert not events, f"code ran while parsing a schema: {events}"


def attempt(
    fn: Callable[[], T], errors: tuple[type[BaseException], ...]
) -> tuple[T | None, BaseException | None]:
    """``(fn(), None)``, or ``(None, err)`` if it raised one of ``errors``."""
    try:
        return fn(), None
    except errors as err:
        return None, err


def bounded(fn: Callable[[], T], limit: int = SMALL) -> T:
    """Call ``fn`` and check that it allocated at most ``limit`` bytes at its peak."""
    tracemalloc.start()
    try:
        result = fn()
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"allocated {peak:,} bytes"
    return result


# ---------------------------------------------------------------------------
# Schema.from_json
# ---------------------------------------------------------------------------

KEYS = ["format", "version", "itemsize", "fields", "name", "offset", "type", "shape",
        "unions", "enums"]  # fmt: skip
TYPE_STRINGS = ["<u4", ">i8", "|b1", "<f2", "S3", "|S0", "V4", "<U2", "<M8[ns]", "<m8[25s]",
                "<c16", "O", "|O", "u1,u2", "(2)u1", "f8,(3,0)u1", "a", "i3", "=f4", "<g",
                "__import__('os').system('false')", "eval('1')", "[]", "{}"]  # fmt: skip

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(TYPE_STRINGS),
)
json_documents = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=6),
    ),
    max_leaves=24,
)


def expect_schema_or_schema_error(text: str | bytes) -> rv.Schema | None:
    """from_json: a schema (which must then round-trip) or a SchemaError with a message."""
    with no_code_runs():
        schema, err = attempt(lambda: bounded(lambda: rv.Schema.from_json(text)), (rv.SchemaError,))
    if schema is None:
        note("SchemaError")
        assert str(err)
        return None
    note("a valid schema")
    assert rv.Schema.from_json(schema.to_json()) == schema
    return schema


def test_the_code_watch_sees_code_run() -> None:
    """The audit-hook check is not vacuous: eval, exec and compile are seen."""
    runs = [
        lambda: eval("1"),
        lambda: exec("pass"),  # noqa: S102
        lambda: compile("1", "<x>", "eval"),
    ]
    for run in runs:
        with pytest.raises(AssertionError, match="code ran"), no_code_runs():
            run()


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_from_json_of_random_bytes_and_text(text: str | bytes) -> None:
    expect_schema_or_schema_error(text)


@settings(max_examples=60)
@given(json_documents)
def test_from_json_of_random_json_documents(doc: Any) -> None:
    expect_schema_or_schema_error(json.dumps(doc))


@st.composite
def mutated_schema_json(draw: st.DrawFn) -> str:
    """A valid schema document with one value replaced, deleted or added somewhere."""
    doc = json.loads(draw(schemas(max_depth=1, max_fields=3)).to_json())
    node: Any = doc
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            node = child
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            node[key] = draw(json_documents)
        elif action == "delete":
            del node[key]
        elif isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = draw(json_documents)
        else:
            node.append(draw(json_documents))
        break
    return json.dumps(doc)


@settings(max_examples=60)
@given(mutated_schema_json())
def test_from_json_of_mutated_valid_documents(text: str) -> None:
    expect_schema_or_schema_error(text)


def nested_json(depth: int) -> str:
    head = '{"itemsize": 1, "fields": [{"name": "a", "offset": 0, "type": '
    return head * depth + '"<u1"' + "}]}" * depth


@pytest.mark.parametrize("depth", [1, 30, 200, 400, 1000, 100_000])
def test_from_json_of_deeply_nested_structs_never_overflows_the_stack(depth: int) -> None:
    expect_schema_or_schema_error(nested_json(depth))


def test_from_json_names_what_is_wrong() -> None:
    good = json.loads(rv.Schema.from_dtype([("ts", "<u8"), ("px", ">f4")]).to_json())
    cases = [
        ({**good, "itemsize": -1}, "itemsize"),
        ({**good, "fields": []}, "fields"),
        ({**good, "fields": [{**good["fields"][1], "type": "__import__('os')"}]}, "'px'"),
        ({**good, "fields": [{**good["fields"][0], "offset": 9}]}, "'ts'"),
        ({**good, "version": 99}, "version"),
    ]
    for doc, needle in cases:
        with pytest.raises(rv.SchemaError, match=needle):
            rv.Schema.from_json(json.dumps(doc))


# ---------------------------------------------------------------------------
# Schema.from_dtype
# ---------------------------------------------------------------------------

field_dtypes = st.one_of(
    hnp.scalar_dtypes(),
    hnp.byte_string_dtypes(max_len=8),
    hnp.unicode_string_dtypes(max_len=4),
)


def check_layout_kept(dt: np.dtype, schema: rv.Schema) -> None:
    if dt.names is None:
        assert schema.names == ("f0",)
        dt = np.dtype([("f0", dt)])
    assert schema.itemsize == dt.itemsize
    assert schema.names == dt.names
    for name in dt.names:
        want, want_off = dt.fields[name][:2]
        got, got_off = schema.dtype.fields[name][:2]
        assert got_off == want_off
        assert got.itemsize == want.itemsize
        assert got.shape == want.shape or want.subdtype is not None


@settings(max_examples=60)
@given(
    st.one_of(
        hnp.array_dtypes(field_dtypes, min_size=1, max_size=5, allow_subarrays=True),
        hnp.nested_dtypes(field_dtypes, max_leaves=8),
    )
)
def test_from_dtype_of_numpy_dtypes_keeps_the_layout_or_names_the_field(dt: np.dtype) -> None:
    schema, err = attempt(lambda: rv.Schema.from_dtype(dt), (rv.SchemaError,))
    if schema is None:
        note("SchemaError")
        assert isinstance(err, rv.SchemaError)
        assert err.field is None or repr(err.field) in str(err)
        return
    note("a valid schema")
    check_layout_kept(dt, schema)
    assert rv.Schema.from_json(schema.to_json()) == schema
    assert rv.Schema.from_dtype(schema.dtype) == schema


spec_atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=10),
    st.binary(max_size=4),
    st.sampled_from(TYPE_STRINGS),
    st.sampled_from(
        [int, float, bool, complex, object, str, bytes, list, dict, np.int8, np.float64,
         np.void, np.str_, np.bytes_, np.datetime64, np.dtype("O"), np.dtype("V0")]
    ),
)  # fmt: skip
garbage_specs = st.recursive(
    spec_atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(st.text(max_size=4), inner), max_size=4),
        st.lists(st.tuples(st.text(max_size=4), inner, inner), max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(
            st.sampled_from(["names", "formats", "offsets", "itemsize", "titles", "aligned"]),
            inner,
            max_size=5,
        ),
        st.fixed_dictionaries(
            {
                "names": st.lists(st.text(max_size=4), max_size=3),
                "formats": st.lists(inner, max_size=3),
            },
            optional={
                "offsets": st.lists(st.integers(-8, 64), max_size=3),
                "itemsize": st.integers(-8, 2**40),
            },
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=80)
@given(garbage_specs)
def test_from_dtype_of_garbage_specs_is_a_schema_or_a_schema_error(spec: Any) -> None:
    schema, err = attempt(lambda: bounded(lambda: rv.Schema.from_dtype(spec)), (rv.SchemaError,))
    if schema is None:
        note("SchemaError")
        assert str(err)
        return
    note("a valid schema")
    assert rv.Schema.from_json(schema.to_json()) == schema


def nested_dtype(depth: int) -> np.dtype:
    dt = np.dtype("u1")
    for _ in range(depth):
        dt = np.dtype([("a", dt)])
    return dt


@pytest.mark.parametrize("depth", [1, 30, 60])
def test_from_dtype_of_nested_dtypes_round_trips_through_every_form(depth: int) -> None:
    schema = rv.Schema.from_dtype(nested_dtype(depth))
    assert rv.Schema.from_json(schema.to_json()) == schema
    assert rv.Schema.from_construct(schema.to_construct()) == schema
    assert pickle.loads(pickle.dumps(schema)) == schema
    assert [f.path for f in schema.fields()] == [".".join(["a"] * depth)]


@pytest.mark.parametrize("depth", [200, 1000, 5000])
def test_from_dtype_of_too_deeply_nested_dtypes_is_a_schema_error(depth: int) -> None:
    """Not a RecursionError (which it was, from about 500 levels)."""
    with pytest.raises(rv.SchemaError, match="nested more than") as err:
        rv.Schema.from_dtype(nested_dtype(depth))
    assert err.value.field is not None
    assert err.value.field.startswith("a.a.a")


# ---------------------------------------------------------------------------
# rv.open and the view
# ---------------------------------------------------------------------------

OPEN_ERRORS = (rv.RecviewError, FileNotFoundError, IsADirectoryError, TypeError, ValueError)
VIEW_ERRORS = (*OPEN_ERRORS, IndexError, KeyError)

bad_ints = st.one_of(
    st.integers(-(2**70), -1),
    st.booleans(),
    st.floats(),
    st.text(max_size=3),
    st.just(np.float64(1.0)),
)
huge = st.one_of(st.integers(2**40, 2**70), st.just(np.uint64(2**64 - 1)))


def mostly(valid: list[str]) -> st.SearchStrategy[str]:
    """One of ``valid`` seven times in eight, else any text: most calls pass the checks."""
    return st.tuples(st.integers(0, 7), st.sampled_from(valid), st.text(max_size=6)).map(
        lambda t: t[2] if t[0] == 7 else t[1]
    )


@st.composite
def open_cases(draw: st.DrawFn) -> tuple[rv.Schema, bytes, dict[str, Any], set[str]]:
    """A schema, a file's bytes (header, records, stray bytes), keyword arguments for
    rv.open (mostly sensible, some out of range, some of the wrong type or value),
    and the names of the arguments that are wrong."""
    schema = draw(schemas(max_depth=1, max_fields=3), label="schema")
    header = draw(st.binary(max_size=40), label="header")
    n = draw(st.integers(0, 8), label="records")
    nbytes = n * schema.itemsize
    content = header + draw(st.binary(min_size=nbytes, max_size=nbytes))
    content += draw(st.binary(max_size=schema.itemsize), label="stray")
    kwargs: dict[str, Any] = {
        "offset": draw(
            st.one_of(
                st.just(len(header)),
                st.integers(0, len(content) + 8),
                st.integers(0, len(content)).map(np.int64),
                huge,
            )
        ),
        "count": draw(st.one_of(st.none(), st.integers(0, n + 2), st.just(np.int32(1)), huge)),
        "trailing": draw(mostly(["error", "ignore", "warn"])),
        "mode": draw(mostly(["mmap", "pread"])),
    }
    bad: set[str] = set()
    for name in ("offset", "count"):
        if draw(st.integers(0, 7)) == 7:  # not 0: hypothesis favours 0
            kwargs[name] = draw(bad_ints)
            bad.add(name)
    if kwargs["trailing"] not in ("error", "ignore", "warn"):
        bad.add("trailing")
    if kwargs["mode"] not in ("mmap", "pread"):
        bad.add("mode")
    return schema, content, kwargs, bad


def expected_open(schema: rv.Schema, size: int, kwargs: dict[str, Any]) -> tuple[int | None, bool]:
    """(records, warns) that rv.open must give for valid arguments; None: LayoutError."""
    offset, count, itemsize = int(kwargs["offset"]), kwargs["count"], schema.itemsize
    if count is not None:
        return (int(count) if offset + int(count) * itemsize <= size else None), False
    if size < offset:
        return None, False
    n, stray = divmod(size - offset, itemsize)
    if stray and kwargs["trailing"] == "error":
        return None, False
    return n, bool(stray) and kwargs["trailing"] == "warn"


@settings(max_examples=60)
@given(case=open_cases())
def test_open_with_random_arguments_raises_only_documented_errors(
    hyp_tmp: Path, case: tuple[rv.Schema, bytes, dict[str, Any], set[str]]
) -> None:
    schema, content, kwargs, bad = case
    records, warns = expected_open(schema, len(content), kwargs) if not bad else (None, False)
    with temp_file(hyp_tmp, content) as path:
        with pytest.warns(rv.LayoutWarning) if warns else contextlib.nullcontext():
            view, err = attempt(
                lambda: bounded(lambda: rv.open(path, schema, **kwargs)), OPEN_ERRORS
            )
        if view is None:
            note(f"open raised {type(err).__name__}")
            if bad:  # a wrong argument: a TypeError or ValueError that names it
                assert type(err) in (TypeError, ValueError), repr(err)
                assert any(name in str(err) for name in bad), str(err)
            else:  # the file does not fit: a LayoutError that names the file
                assert records is None, f"expected {records} records, got {err!r}"
                assert isinstance(err, rv.LayoutError), repr(err)
                assert path in str(err)
            return
        note("opened")
        with view:
            assert not bad, f"{sorted(bad)} were accepted"
            assert len(view) == records
            start = int(kwargs["offset"])
            assert view.array.tobytes() == content[start : start + records * schema.itemsize]


view_keys = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-20, 20),
    st.integers(-20, 20).map(np.int64),
    st.builds(
        slice,
        st.none() | st.integers(-(2**70), 2**70) | st.integers(-20, 20),
        st.none() | st.integers(-(2**70), 2**70) | st.integers(-20, 20),
        st.none() | st.integers(-(2**70), 2**70) | st.integers(-3, 3),
    ),
    field_names(),
    st.lists(st.integers(-20, 20), max_size=4),
    st.lists(field_names(), min_size=1, max_size=3),
    st.booleans(),
    st.floats(),
    st.none(),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
batch_args = st.fixed_dictionaries(
    {},
    optional={
        "records": st.one_of(st.none(), st.integers(-3, 50), st.integers(0, 2**70), bad_ints),
        "nbytes": st.one_of(st.none(), st.integers(-3, 500), st.integers(0, 2**70), bad_ints),
        "start": st.one_of(st.integers(-3, 50), st.integers(0, 2**70), bad_ints),
    },
)


def view_operations(schema: rv.Schema) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Calls on a view: random keys and arguments, and the schema's own names."""
    names = st.sampled_from(sorted(set(schema.names) | {f.path for f in schema.fields()}))
    keys = st.one_of(view_keys, st.slices(20), names, st.lists(names, min_size=1, max_size=3))
    column_names = st.one_of(
        st.none(), st.lists(st.one_of(names, field_names()), max_size=3), st.integers()
    )
    return st.lists(
        st.one_of(
            st.tuples(st.just("getitem"), keys),
            st.tuples(st.just("batches"), batch_args),
            st.tuples(st.just("columns"), column_names),
        ),
        min_size=1,
        max_size=8,
    )


@settings(max_examples=60)
@given(
    schema=schemas(max_depth=1, max_fields=3),
    nrecords=st.integers(0, 12),
    mode=st.sampled_from(["mmap", "pread"]),
    data=st.data(),
)
def test_view_with_random_keys_and_arguments_raises_only_documented_errors(
    hyp_tmp: Path, schema: rv.Schema, nrecords: int, mode: str, data: st.DataObject
) -> None:
    ops = data.draw(view_operations(schema), label="ops")
    content = np.random.default_rng(nrecords).bytes(nrecords * schema.itemsize)
    names = set(schema.names) | {f.path for f in schema.fields()}
    with temp_file(hyp_tmp, content) as path, rv.open(path, schema, mode=mode) as view:
        for op, arg in ops:
            calls = {
                "getitem": lambda arg=arg: view[arg],
                "batches": lambda arg=arg: [b.tobytes() for b in view.batches(**arg)],
                "columns": lambda arg=arg: view.columns(arg),
            }
            _result, err = attempt(lambda call=calls[op]: bounded(call), VIEW_ERRORS)
            note(f"{op} raised {type(err).__name__}" if err else f"{op} succeeded")
            check_view_error(op, arg, err, names)


def check_view_error(op: str, arg: Any, err: BaseException | None, names: set[str]) -> None:
    """The error (if any) of ``view[arg]``, ``batches(**arg)`` or ``columns(arg)``
    is the right one and names what was wrong."""
    is_int = isinstance(arg, (int, np.integer)) and not isinstance(arg, bool)
    if err is None:
        if op == "getitem" and isinstance(arg, str):
            assert arg in names
        return
    # str(KeyError) is the repr of its message: read the message itself
    msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    assert msg, f"{op}({arg!r}) raised {type(err).__name__} without a message"
    if op == "getitem" and is_int:
        assert isinstance(err, IndexError)
        assert str(int(arg)) in msg
    if op == "getitem" and isinstance(arg, str):
        assert isinstance(err, KeyError)
        assert arg not in names
        assert repr(arg) in msg
    if op == "batches" and isinstance(err, (TypeError, ValueError)):
        assert any(k in msg for k in arg) or "records or nbytes" in msg, msg


def test_missing_file_and_directory_raise_the_os_errors(tmp_path: Path) -> None:
    schema = rv.Schema.from_dtype([("a", "<u4")])
    with pytest.raises(FileNotFoundError):
        rv.open(tmp_path / "nope.bin", schema)
    with pytest.raises(IsADirectoryError):
        rv.open(tmp_path, schema)


# ---------------------------------------------------------------------------
# A huge count, a huge file: O(1), never a huge allocation
# ---------------------------------------------------------------------------


@given(
    count=st.integers(2**20, 2**62),
    itemsize=st.integers(1, 4096),
    mode=st.sampled_from(["mmap", "pread"]),
)
def test_a_count_beyond_the_file_is_a_layout_error_not_an_allocation(
    hyp_tmp: Path, count: int, itemsize: int, mode: str
) -> None:
    schema = rv.Schema.from_dtype([("raw", f"V{itemsize}")])
    with temp_file(hyp_tmp, b"\0" * 100) as path:
        with pytest.raises(rv.LayoutError) as err:
            bounded(lambda: rv.open(path, schema, count=count, mode=mode), limit=256 << 10)
        assert f"{count:,} records" in str(err.value)
        assert path in str(err.value)


def test_opening_a_64_gib_sparse_file_allocates_nothing(tmp_path: Path) -> None:
    """More than this machine's memory: opened, indexed, counted in O(1)."""
    path = tmp_path / "sparse.bin"
    size = 64 << 30
    with open(path, "wb") as f:
        f.truncate(size)
    schema = rv.Schema.from_dtype([("ts", "<u8"), ("v", "<f8")])
    n = size // schema.itemsize

    def use() -> None:
        with rv.open(path, schema) as view:
            assert len(view) == n
            assert view[-1]["ts"] == 0
            assert view[n // 2 : n // 2 + 3]["v"].tolist() == [0.0, 0.0, 0.0]
            assert view["ts"].shape == (n,)  # a view: nothing copied
            assert next(view.batches(records=1000)).shape == (1000,)
        with pytest.raises(rv.LayoutError):
            rv.open(path, schema, count=n + 1)
        with rv.open(path, schema, count=n, mode="pread") as view:
            assert view[n - 1]["ts"] == 0

    bounded(use, limit=SMALL)
    assert math.isclose(os.path.getsize(path), size)
