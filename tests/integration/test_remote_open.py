"""rv.open(url, schema, storage_options=...): View's calls over HTTP, S3 and file:// URLs."""

from __future__ import annotations

import os
import re
import threading
import time

import numpy as np
import pytest

import recview as rv
from tests.remote_servers import sample_records, serve_per_test

pytest.importorskip("aiohttp")
pytestmark = pytest.mark.usefixtures("local_env")

SCHEMA = rv.Schema.from_dtype(
    [("hdr", [("ts", ">u8"), ("seq", "<u4")]), ("px", "<f8"), ("legs", "<i2", (3,))]
)


def _records(n: int, seed: int = 0) -> np.ndarray:
    return sample_records(SCHEMA.dtype, n, seed, ts_step=3, ts_start=1)


@pytest.fixture
def obj(http_server, request):
    """A fresh object of 3,000 records; (url, local records)."""
    yield from serve_per_test(http_server, request, lambda seed: _records(3_000, seed))


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


def _joined(batches: list[np.ndarray]) -> np.ndarray:
    """Batches as one array of their dtype (np.concatenate would make big-endian native)."""
    assert all(b.dtype == SCHEMA.dtype for b in batches)
    return np.frombuffer(b"".join(b.tobytes() for b in batches), SCHEMA.dtype)


def test_open_url_answers_the_views_calls_with_the_local_values(obj):
    url, recs = obj
    with rv.open(url, SCHEMA) as view:
        assert (len(view), view.path, view.offset, view.mode) == (3000, url, 0, "remote")
        assert view.nbytes == recs.nbytes
        _same(view.array, recs)
        assert view[17].tobytes() == recs[17].tobytes()
        assert view[-1].tobytes() == recs[-1].tobytes()
        _same(view[100:250], recs[100:250])
        _same(view[2900:], recs[2900:])
        _same(view[5:2000:37], recs[5:2000:37])
        _same(view[::-7], recs[::-7])
        _same(view[[5, 1, 5, 2999]], recs[[5, 1, 5, 2999]])
        mask = recs["px"] > 100
        _same(view[mask], recs[mask])
        np.testing.assert_array_equal(view["hdr.ts"], recs["hdr"]["ts"])
        np.testing.assert_array_equal(view["legs"], recs["legs"])
        cols = view.columns()
        assert sorted(cols) == ["hdr.seq", "hdr.ts", "legs", "px"]
        np.testing.assert_array_equal(cols["hdr.ts"], recs["hdr"]["ts"])
        assert cols["hdr.ts"].dtype.isnative and cols["hdr.ts"].flags.writeable
        np.testing.assert_array_equal(view.columns(["legs"])["legs"], recs["legs"])
        got = list(view.batches(nbytes=1000 * SCHEMA.itemsize + 5, start=10))
        assert [len(b) for b in got] == [1000, 1000, 990]
        _same(_joined(got), recs[10:])
        assert list(view.batches(start=3000)) == []
        for arr in (view.array, view[1:3], view["px"], got[0]):
            assert not arr.flags.writeable  # copies, but read-only as a view's arrays
        with pytest.raises(IndexError, match="out of range for 3,000 records"):
            view[3000]
        with pytest.raises(rv.SchemaError, match="no field 'nope'"):
            view["nope"]
    assert view.closed
    with pytest.raises(rv.ClosedError, match=re.escape(url)):
        len(view)


def test_open_url_reads_a_view_record_from_the_block_cache(obj):
    url, recs = obj
    with rv.open(url, SCHEMA) as view:
        before = view.source.requests
        for i in range(0, 200, 3):
            assert view[i].tobytes() == recs[i].tobytes()
        assert view.source.requests - before == 1  # one 256 KiB block


def test_open_npy_url_needs_no_schema(http_server):
    arr = np.arange(60, dtype=">i4").reshape(20, 3)
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    http_server.objects["m.npy"] = buf.getvalue()
    with rv.open(http_server.url("m.npy")) as view:
        assert len(view) == 20
        np.testing.assert_array_equal(view["f0"], arr)
    http_server.objects["m.bin"] = buf.getvalue()
    with pytest.raises(TypeError, match=r"m\.bin: rv.open needs a schema"):
        rv.open(http_server.url("m.bin"))


def test_open_url_errors_name_the_url_and_the_byte_range(http_server, obj):
    url, recs = obj
    with pytest.raises(FileNotFoundError) as info:
        rv.open(http_server.url("missing.bin"), SCHEMA)
    assert info.value.filename == http_server.url("missing.bin")
    view = rv.open(url, SCHEMA)
    name = url.rsplit("/", 1)[1]
    http_server.objects[name] = recs.tobytes()[: 1000 * SCHEMA.itemsize]
    with pytest.raises(rv.TruncatedError) as err:
        view[1500:1600]
    size = SCHEMA.itemsize
    # The request was the 256 KiB block of the block cache, cut at the old size.
    assert str(err.value) == (
        f"{url}: bytes 0-{3000 * size - 1:,}: got only {1000 * size:,} bytes: the object is "
        f"{1000 * size:,} bytes now (it shrank or was replaced while open; reopen it)"
    )
    with pytest.raises(rv.TruncatedError, match=re.escape(str(err.value))):
        view[0]  # a view that saw the object shrink keeps raising it
    with pytest.raises(rv.TruncatedError, match="shrank"):
        view.refresh()
    view.close()


def test_refresh_and_follow_deliver_appended_records_once(http_server, obj):
    url, recs = obj
    name = url.rsplit("/", 1)[1]
    more = _records(500, seed=99)
    view = rv.open(url, SCHEMA)
    http_server.objects[name] = recs.tobytes() + more[:200].tobytes() + b"\x01" * 5
    assert view.refresh() == 3200  # the 5 bytes of a partial record wait

    def grow():
        time.sleep(0.2)
        http_server.objects[name] = recs.tobytes() + more.tobytes()

    writer = threading.Thread(target=grow)
    writer.start()
    got = list(view.follow(start=3100, poll=0.02, timeout=1.0, records=64))
    writer.join()
    _same(_joined(got), more[100:])  # records 3,100.. are more[100:]
    assert max(len(b) for b in got) <= 64
    with pytest.raises(rv.TruncatedError, match="cannot resume at record 9,999"):
        view.follow(start=9999)
    view.close()


def test_count_rules_and_messages_are_those_of_a_local_file(tmp_path):
    path = tmp_path / "r.bin"
    path.write_bytes(_records(10).tobytes() + b"xyz")
    url = "file://" + str(path)
    cases = [
        {},
        {"offset": 4000},
        {"count": 11},
        {"offset": 3, "count": 10},
    ]

    def outcome(where: str, kwargs: dict) -> tuple[str, object]:
        try:
            with rv.open(where, SCHEMA, **kwargs) as view:
                return ("ok", len(view))
        except rv.LayoutError as err:
            return ("error", str(err).replace(where, "X").replace("object", "file"))

    for kwargs in cases:
        assert outcome(str(path), kwargs) == outcome(url, kwargs), kwargs
    with pytest.warns(rv.LayoutWarning, match=r"3 stray bytes at offset 260 \(left out\)"):
        view = rv.open(url, SCHEMA, trailing="warn")
    assert len(view) == 10
    view.close()


def test_file_url_equals_the_local_view(tmp_path):
    recs = _records(777, seed=5)
    path = tmp_path / "r.bin"
    path.write_bytes(b"H" * 16 + recs.tobytes())
    with (
        rv.open(path, SCHEMA, offset=16) as local,
        rv.open(path.as_uri(), SCHEMA, offset=16) as remote,
    ):
        _same(remote.array, local.array)
        _same(remote[3:9], local[3:9])
        assert remote.columns().keys() == local.columns().keys()
        for key, col in local.columns().items():
            np.testing.assert_array_equal(remote.columns()[key], col)


def test_url_options_that_make_no_sense_are_errors(tmp_path):
    path = tmp_path / "r.bin"
    path.write_bytes(b"\0" * 8)
    with pytest.raises(TypeError, match="storage_options are for URLs"):
        rv.open(path, "<u4", storage_options={"anon": True})
    with pytest.raises(ValueError, match="lock=True is for local files"):
        rv.open(path.as_uri(), "<u4", lock=True)


def test_to_pandas_over_a_url(obj):
    pytest.importorskip("pandas")
    url, recs = obj
    with rv.open(url, SCHEMA) as view:
        df = view.to_pandas()
    assert len(df) == 3000
    np.testing.assert_array_equal(df["px"].to_numpy(), recs["px"])


def test_open_s3_url_with_storage_options(s3_server):
    recs = _records(4000, seed=3)
    url = s3_server.put("s3://rv-open/a/ticks.bin", recs.tobytes())
    with rv.open(url, SCHEMA, storage_options=s3_server.storage_options) as view:
        assert len(view) == 4000
        _same(_joined(list(view.batches(records=999))), recs)
        assert view[3999].tobytes() == recs[3999].tobytes()
        s3_server.put(url, recs[:10].tobytes())
        with pytest.raises(rv.TruncatedError, match=re.escape(url) + ": object shrank"):
            view.refresh()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
