"""Property tests of views: random files, headers, counts, slices, batches, columns.

The model is plain numpy over the same bytes (``np.frombuffer`` of the record
region): every view answer must hold the same bytes as numpy's, and the
errors must be the documented ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import recview as rv
from tests.strategies import (
    RecordSpec,
    field_specs,
    from_numpy,
    record_bytes,
    records,
    same_values,
    temp_file,
)

MODES = st.sampled_from(["mmap", "pread"])


@st.composite
def region(draw: st.DrawFn, max_records: int = 12) -> tuple[rv.Schema, bytes, bytes]:
    """(schema, header, record bytes): a file's worth of random records."""
    spec = draw(field_specs(max_depth=1, max_fields=4), label="spec")
    values = draw(st.lists(records(spec), max_size=max_records), label="values")
    header = draw(st.binary(max_size=40), label="header")
    return spec.schema(), header, record_bytes(spec, values)


def record_bytes_of(arr: np.ndarray) -> list[bytes]:
    """Each record's bytes, padding included (a strided copy would not keep padding)."""
    return [arr[i].tobytes() for i in range(len(arr))]


# ---------------------------------------------------------------------------
# opening: header, count, trailing
# ---------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    data=region(),
    stray=st.binary(max_size=40),
    trailing=st.sampled_from(["error", "ignore", "warn"]),
    mode=MODES,
)
def test_open_counts_whole_records_and_applies_the_trailing_policy(
    hyp_tmp: Path, data: tuple[rv.Schema, bytes, bytes], stray: bytes, trailing: str, mode: str
) -> None:
    schema, header, raw = data
    itemsize = schema.itemsize
    content = header + raw + stray
    n, extra = divmod(len(raw) + len(stray), itemsize)
    with temp_file(hyp_tmp, content) as path:
        if extra and trailing == "error":
            with pytest.raises(rv.LayoutError) as err:
                rv.open(path, schema, offset=len(header), trailing=trailing, mode=mode)
            msg = str(err.value)
            assert path in msg
            assert f"{extra:,} stray bytes" in msg
            assert f"{itemsize:,} bytes" in msg
            assert err.value.offset == len(header) + n * itemsize
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            view = rv.open(path, schema, offset=len(header), trailing=trailing, mode=mode)
        with view:
            kinds = [w.category for w in caught]
            assert kinds == ([rv.LayoutWarning] if extra and trailing == "warn" else [])
            assert len(view) == n
            assert view.offset == len(header)
            assert view.nbytes == n * itemsize
            assert view.array.tobytes() == (raw + stray)[: n * itemsize]
            assert not view.array.flags.writeable


@settings(max_examples=30)
@given(data=region(), count=st.integers(0, 20), mode=MODES)
def test_count_takes_exactly_that_many_records_or_raises(
    hyp_tmp: Path, data: tuple[rv.Schema, bytes, bytes], count: int, mode: str
) -> None:
    schema, header, raw = data
    n = len(raw) // schema.itemsize
    with temp_file(hyp_tmp, header + raw) as path:
        if count > n:
            with pytest.raises(rv.LayoutError) as err:
                rv.open(path, schema, offset=len(header), count=count, mode=mode)
            assert path in str(err.value)
            assert f"{count:,} records" in str(err.value)
            return
        with rv.open(path, schema, offset=len(header), count=count, mode=mode) as view:
            assert len(view) == count
            assert view.array.tobytes() == raw[: count * schema.itemsize]


@given(data=region(), cut=st.integers(1, 64))
def test_file_shorter_than_the_header_is_a_layout_error(
    hyp_tmp: Path, data: tuple[rv.Schema, bytes, bytes], cut: int
) -> None:
    schema, header, raw = data
    content = header + raw
    offset = len(content) + cut
    with temp_file(hyp_tmp, content) as path, pytest.raises(rv.LayoutError) as err:
        rv.open(path, schema, offset=offset)
    assert path in str(err.value)
    assert f"{offset:,}-byte header" in str(err.value)


# ---------------------------------------------------------------------------
# indexing and slicing
# ---------------------------------------------------------------------------


# pread-mode strided slices once left padding bytes uninitialized (numpy's
# structured fancy indexing copies fields only): a padded record, reversed.
PADDED = rv.Schema.from_dtype(
    {"names": ["a", "b"], "formats": ["|b1", ">f2"], "offsets": [0, 2], "itemsize": 5}
)


@settings(max_examples=30)
@given(
    data=region(),
    slices=st.lists(st.slices(16), max_size=6),
    mode=MODES,
)
@example(data=(PADDED, b"", bytes(range(1, 16))), slices=[slice(None, None, 2)], mode="pread")
def test_indexing_and_slicing_match_numpy(
    hyp_tmp: Path, data: tuple[rv.Schema, bytes, bytes], slices: list[slice], mode: str
) -> None:
    schema, header, raw = data
    want = np.frombuffer(raw, dtype=schema.dtype)
    n = len(want)
    with temp_file(hyp_tmp, header + raw) as path:
        view = rv.open(path, schema, offset=len(header), mode=mode)
        whole = view.array
        for i in range(-n, n):
            rec = view[i]
            assert rec.tobytes() == want[i].tobytes(), i
            assert view[np.int64(i)].tobytes() == want[i].tobytes()
        for i in (n, -n - 1, n + 1000, -(2**63)):
            with pytest.raises(IndexError, match=str(i)):
                view[i]
        for sl in [*slices, slice(None), slice(None, None, -1), slice(-3, None)]:
            got = view[sl]
            assert record_bytes_of(got) == record_bytes_of(want[sl]), sl
            assert not got.flags.writeable
            if mode == "mmap" and len(got):
                assert np.shares_memory(got, whole)
        for name in schema.names:
            got = view[name]
            assert not got.flags.writeable
            assert got.shape == want[name].shape
            if mode == "mmap" and n:
                assert np.shares_memory(got, whole)
            for i in range(n):
                assert (
                    same_values(
                        from_numpy(schema.dtype, want[i])[name],
                        from_numpy(schema.dtype, view[i])[name],
                    )
                    is None
                )
        view.close()
        # arrays handed out before close stay valid; the view itself is gone
        assert whole.tobytes() == raw
        with pytest.raises(rv.ClosedError):
            view[0]


# ---------------------------------------------------------------------------
# batches
# ---------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    data=region(max_records=30),
    step=st.one_of(
        st.tuples(st.just("records"), st.integers(1, 40)),
        st.tuples(st.just("nbytes"), st.integers(0, 400)),
        st.tuples(st.just("default"), st.just(0)),
    ),
    start=st.integers(0, 35),
    mode=MODES,
)
def test_batches_cover_exactly_the_records_in_order(
    hyp_tmp: Path,
    data: tuple[rv.Schema, bytes, bytes],
    step: tuple[str, int],
    start: int,
    mode: str,
) -> None:
    schema, header, raw = data
    itemsize = schema.itemsize
    n = len(raw) // itemsize
    how, k = step
    kwargs: dict[str, Any] = {how: k} if how != "default" else {}
    per_batch = k if how == "records" else max(1, k // itemsize) if how == "nbytes" else n
    with temp_file(hyp_tmp, header + raw) as path:
        with rv.open(path, schema, offset=len(header), mode=mode) as view:
            if start > n:
                with pytest.raises(IndexError, match=f"start={start}"):
                    view.batches(start=start, **kwargs)
                return
            batches = list(view.batches(start=start, **kwargs))
            assert b"".join(b.tobytes() for b in batches) == raw[start * itemsize :]
            assert all(not b.flags.writeable for b in batches)
            assert all(b.dtype == schema.dtype for b in batches)
            sizes = [len(b) for b in batches]
            assert all(0 < s <= max(per_batch, 1) for s in sizes)
            assert all(s == per_batch for s in sizes[:-1])  # only the last is short
            assert len(batches) == math.ceil((n - start) / max(per_batch, 1))
        # batches the caller kept stay valid after close
        assert b"".join(b.tobytes() for b in batches) == raw[start * itemsize :]


@given(data=region(), bad=st.sampled_from([-1, -100]))
def test_batches_reject_negative_sizes(
    hyp_tmp: Path, data: tuple[rv.Schema, bytes, bytes], bad: int
) -> None:
    schema, header, raw = data
    with (
        temp_file(hyp_tmp, header + raw) as path,
        rv.open(path, schema, offset=len(header)) as view,
    ):
        for kwargs in ({"records": bad}, {"nbytes": bad}, {"start": bad}):
            with pytest.raises(ValueError, match=next(iter(kwargs))):
                view.batches(**kwargs)
        with pytest.raises(ValueError, match="records or nbytes"):
            view.batches(1, nbytes=8)


# ---------------------------------------------------------------------------
# columns
# ---------------------------------------------------------------------------


def numpy_column(arr: np.ndarray, path: str) -> np.ndarray:
    for part in path.split("."):
        arr = arr[part]
    return arr


def spec_leaves(spec: RecordSpec, base: int = 0, prefix: str = "") -> Iterator[tuple[int, str]]:
    """(offset, dotted path) of every leaf, from the strategy's own field
    list: through nested records and arrays of records (whose members are
    leaves, at their first element's offset)."""
    for f in spec.fields:
        if isinstance(f.type, RecordSpec):
            yield from spec_leaves(f.type, base + f.offset, f"{prefix}{f.name}.")
        else:
            yield base + f.offset, prefix + f.name


@settings(max_examples=30)
@given(
    spec=field_specs(max_depth=2, max_fields=4),
    mode=MODES,
    pick=st.data(),
)
def test_columns_equal_numpy_per_field_copies(
    hyp_tmp: Path, spec: RecordSpec, mode: str, pick: st.DataObject
) -> None:
    schema = spec.schema()
    values = pick.draw(st.lists(records(spec), max_size=12), label="values")
    header = pick.draw(st.binary(max_size=40), label="header")
    raw = record_bytes(spec, values)
    want = np.frombuffer(raw, dtype=schema.dtype)
    with temp_file(hyp_tmp, header + raw) as path:
        with rv.open(path, schema, offset=len(header), mode=mode) as view:
            cols = view.columns()
            names = pick.draw(
                st.lists(st.sampled_from([f.name for f in spec.fields]), max_size=3, unique=True),
                label="names",
            )
            some = view.columns(names)
            with pytest.raises(KeyError, match="no field"):
                view.columns(["no such field"])
    # one column per leaf, in offset order (no two leaves of this strategy share one)
    paths = [p for _, p in sorted(spec_leaves(spec))]
    assert list(cols) == paths
    for path in paths:
        assert_column_equal(cols[path], numpy_column(want, path))
    # a top-level name selects that field's leaves
    expected_keys = [p for p in paths if p.split(".")[0] in names]
    assert sorted(some) == sorted(expected_keys)
    for path in some:
        assert_column_equal(some[path], numpy_column(want, path))


def assert_column_equal(got: np.ndarray, ref: np.ndarray) -> None:
    assert got.flags.writeable
    assert got.flags.c_contiguous
    assert got.shape == ref.shape
    assert got.dtype.names is None
    assert got.dtype.isnative
    # the byte order changes, the values do not: compare bit for bit
    assert got.tobytes() == ref.astype(got.dtype).tobytes()
