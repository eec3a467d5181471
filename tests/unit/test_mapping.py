"""Unit tests of recview._mapping: the mapping layer under views.

Every behaviour is checked on both implementations: the native guarded one
(``recview._guard``) and the pure-Python :mod:`mmap` fallback, which the
``backend`` fixture forces by switching the module's ``_native`` flag (what
``RECVIEW_NO_GUARD=1`` does at import, tested in a subprocess below). SIGBUS
itself is exercised in ``tests/integration/test_sigbus_guard.py``, in child
processes.
"""

from __future__ import annotations

import gc
import mmap
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from recview import _mapping

GRAN = mmap.ALLOCATIONGRANULARITY
FILE_NBYTES = 5 * GRAN + 123


def _pattern(nbytes: int) -> bytes:
    # position-dependent bytes, so a mapping shifted by one byte is caught
    idx = np.arange(nbytes, dtype=np.uint64)
    return ((idx * 2654435761) >> 7).astype(np.uint8).tobytes()


DATA = _pattern(FILE_NBYTES)


@pytest.fixture(params=["native", "fallback"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fallback":
        monkeypatch.setattr(_mapping, "_native", False)
    return str(request.param)


@pytest.fixture
def data_fd(tmp_path: Path) -> Iterator[int]:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    fd = os.open(path, os.O_RDONLY)
    yield fd
    os.close(fd)


def _live() -> int:
    from recview import _guard

    return _guard.live_regions()


def test_guard_is_built_and_installed_here() -> None:
    # The package's build step compiles the extension on this machine; a
    # silent fallback would leave every view unguarded.
    from recview import _guard

    assert _mapping.GUARD_AVAILABLE, _mapping.GUARD_ERROR
    assert _mapping.GUARD_ERROR is None
    assert _mapping.ensure_guard() is True
    assert _guard.is_installed()


@pytest.mark.parametrize(
    ("offset", "nbytes"),
    [
        (0, FILE_NBYTES),
        (1, 10),
        (GRAN - 1, 2),
        (GRAN, GRAN),
        (GRAN + 1, 3 * GRAN),
        (3 * GRAN + 5, 2 * GRAN + 118),  # up to the very last byte
        (FILE_NBYTES - 1, 1),
    ],
)
def test_buffer_equals_file_bytes_at_unaligned_offsets(
    backend: str, data_fd: int, offset: int, nbytes: int
) -> None:
    m = _mapping.Mapping(data_fd, offset, nbytes, path="data.bin")
    assert (m.offset, m.nbytes) == (offset, nbytes)
    assert m.guarded is (backend == "native")
    assert len(m.buffer) == nbytes
    assert m.buffer.format == "B"
    assert bytes(m.buffer) == DATA[offset : offset + nbytes]
    arr = np.frombuffer(m.buffer, dtype=np.uint8)
    assert np.array_equal(arr, np.frombuffer(DATA, np.uint8)[offset : offset + nbytes])
    m.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_range_maps_the_same_bytes_as_read(
    backend: str, data_fd: int, data: st.DataObject
) -> None:
    offset = data.draw(st.integers(0, FILE_NBYTES - 1), label="offset")
    nbytes = data.draw(st.integers(1, FILE_NBYTES - offset), label="nbytes")
    m = _mapping.Mapping(data_fd, offset, nbytes)
    try:
        assert bytes(m.buffer) == os.pread(data_fd, nbytes, offset)
    finally:
        m.close()


def test_numpy_views_the_mapping_zero_copy(backend: str, data_fd: int) -> None:
    m = _mapping.Mapping(data_fd, 8, 4096)
    a = np.frombuffer(m.buffer, dtype="<u8")
    b = np.frombuffer(m.buffer, dtype="<u8")
    assert np.shares_memory(a, b)
    assert not a.flags.owndata
    assert a[0] == int.from_bytes(DATA[8:16], "little")
    m.close()


def test_buffer_is_read_only(backend: str, data_fd: int) -> None:
    m = _mapping.Mapping(data_fd, 3, 100)
    assert m.buffer.readonly
    with pytest.raises(TypeError):
        m.buffer[0] = 1
    arr = np.frombuffer(m.buffer, dtype=np.uint8)
    assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 1
    with pytest.raises(ValueError, match="WRITEABLE"):
        arr.setflags(write=True)
    m.close()


def test_native_region_refuses_writable_buffer(data_fd: int) -> None:
    import ctypes

    from recview import _guard

    region = _guard.Region(data_fd, 0, 16)
    assert memoryview(region).readonly
    with pytest.raises((BufferError, TypeError), match="not writable"):
        (ctypes.c_char * 16).from_buffer(region)
    region.close()


def test_close_with_live_arrays_does_not_raise_and_arrays_stay_valid(
    backend: str, data_fd: int
) -> None:
    gc.collect()  # regions earlier tests left to the collector go now, not mid-test
    live_before = _live()
    m = _mapping.Mapping(data_fd, 7, 3 * GRAN)
    arr = np.frombuffer(m.buffer, dtype=np.uint8)
    field = arr[10:20]
    expected = np.frombuffer(DATA, np.uint8)[7 : 7 + 3 * GRAN].copy()
    m.close()
    m.close()  # twice is fine
    assert m.closed
    gc.collect()
    assert np.array_equal(arr, expected)  # still mapped, still the file's bytes
    assert np.array_equal(field, expected[10:20])
    if backend == "native":
        assert _live() == live_before + 1  # unmapped only when the arrays go
    del arr
    assert np.array_equal(field, expected[10:20])  # a view of a view keeps it too
    del field
    gc.collect()
    assert _live() == live_before


def test_close_without_arrays_unmaps_now(backend: str, data_fd: int) -> None:
    gc.collect()
    live_before = _live()
    m = _mapping.Mapping(data_fd, 0, GRAN)
    if backend == "native":
        assert _live() == live_before + 1
    m.close()
    assert _live() == live_before
    with pytest.raises(ValueError, match="released"):
        m.buffer.tobytes()


def test_arrays_outlive_the_mapping_object(backend: str, data_fd: int) -> None:
    gc.collect()
    live_before = _live()
    arr = np.frombuffer(_mapping.Mapping(data_fd, 1, 1000).buffer, dtype=np.uint8)
    gc.collect()
    assert bytes(arr) == DATA[1:1001]
    del arr
    gc.collect()
    assert _live() == live_before


@pytest.mark.parametrize(
    "advice",
    sorted(
        getattr(mmap, name)
        for name in (
            "MADV_NORMAL",
            "MADV_SEQUENTIAL",
            "MADV_WILLNEED",
            "MADV_DONTNEED",
            "MADV_RANDOM",
        )
        if hasattr(mmap, name)
    ),
)
def test_advise_keeps_contents(backend: str, data_fd: int, advice: int) -> None:
    m = _mapping.Mapping(data_fd, GRAN + 3, 3 * GRAN)
    arr = np.frombuffer(m.buffer, dtype=np.uint8)
    total = int(arr.sum(dtype=np.uint64))
    m.advise(0, m.nbytes, advice)
    m.advise(5, 1, advice)  # rounds to the page holding it
    m.advise(GRAN, 10 * GRAN, advice)  # clipped to the mapping
    m.advise(m.nbytes + 100, 10, advice)  # past the end: nothing to do
    m.advise(0, 0, advice)
    # MADV_DONTNEED drops the pages; the next touch reads the page cache again
    assert int(arr.sum(dtype=np.uint64)) == total
    assert bytes(arr) == DATA[GRAN + 3 : 4 * GRAN + 3]
    m.close()


def test_advise_ignores_unknown_advice_and_closed_mappings(backend: str, data_fd: int) -> None:
    m = _mapping.Mapping(data_fd, 0, GRAN)
    m.advise(0, GRAN, 987_654)  # EINVAL from the kernel: advice is only advice
    assert m.buffer.tobytes() == DATA[:GRAN]  # and changes nothing
    m.close()
    m.advise(0, GRAN, getattr(mmap, "MADV_NORMAL", 0))
    assert m.closed


def test_advise_rejects_negative_ranges(backend: str, data_fd: int) -> None:
    m = _mapping.Mapping(data_fd, 0, GRAN, path="data.bin")
    with pytest.raises(ValueError, match=r"data\.bin.*start=-1"):
        m.advise(-1, 10, 0)
    with pytest.raises(ValueError, match="nbytes=-5"):
        m.advise(0, -5, 0)
    m.close()


@pytest.mark.parametrize("nbytes", [0, -1])
def test_nonpositive_nbytes_is_refused(backend: str, data_fd: int, nbytes: int) -> None:
    # mmap of length 0 would map the whole file (numpy gh-27723)
    with pytest.raises(ValueError, match=rf"data\.bin: cannot map {nbytes} bytes"):
        _mapping.Mapping(data_fd, 0, nbytes, path="data.bin")


def test_negative_offset_is_refused(backend: str, data_fd: int) -> None:
    with pytest.raises(ValueError, match=r"<fd \d+>: cannot map at offset -1"):
        _mapping.Mapping(data_fd, -1, 10)


@pytest.mark.parametrize(
    ("offset", "nbytes"), [(0, FILE_NBYTES + 1), (FILE_NBYTES, 1), (GRAN + 1, FILE_NBYTES)]
)
def test_range_past_end_of_file_is_a_value_error(
    backend: str, data_fd: int, offset: int, nbytes: int
) -> None:
    # the view layer turns this (a shrink between fstat and mmap) into TruncatedError
    with pytest.raises(ValueError, match="mmap length is greater than file size"):
        _mapping.Mapping(data_fd, offset, nbytes)


def test_unmappable_descriptor_is_an_os_error(backend: str, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(OSError):  # ENODEV or EACCES, depending on the kernel
            _mapping.Mapping(read_end, 0, 10)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_no_faults_without_truncation(backend: str, data_fd: int) -> None:
    before = _mapping.fault_count()
    m = _mapping.Mapping(data_fd, 0, FILE_NBYTES)
    assert int(np.frombuffer(m.buffer, np.uint8).sum()) == sum(DATA)
    assert not m.faulted()
    assert _mapping.fault_count() == before
    m.close()
    assert not m.faulted()


def test_repr_names_file_range_and_state(backend: str, data_fd: int) -> None:
    m = _mapping.Mapping(data_fd, 5, 10, path="data.bin")
    state = "guarded" if backend == "native" else "unguarded"
    assert repr(m) == f"<recview Mapping data.bin offset=5 nbytes=10 {state}>"
    m.close()
    assert repr(m) == "<recview Mapping data.bin offset=5 nbytes=10 closed>"


def test_mapping_survives_closing_the_descriptor(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    fd = os.open(path, os.O_RDONLY)
    m = _mapping.Mapping(fd, 100, 1000)
    os.close(fd)
    assert bytes(m.buffer) == DATA[100:1100]
    m.close()


def test_registry_full_is_a_clear_error_and_slots_are_reused(data_fd: int) -> None:
    from recview import _guard

    gc.collect()
    live_before = _live()
    regions: list[_guard.Region] = []
    with pytest.raises(OSError, match="too many guarded mappings"):  # noqa: PT012
        while True:
            regions.append(_guard.Region(data_fd, 0, 1))
    assert len(regions) == _guard.MAX_SLOTS - live_before
    for region in regions[::2]:
        region.close()
    del regions
    assert _live() == live_before
    m = _mapping.Mapping(data_fd, 0, 10)
    assert bytes(m.buffer) == DATA[:10]
    m.close()


def test_concurrent_open_read_close_from_threads(backend: str, data_fd: int) -> None:
    gc.collect()
    live_before = _live()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                offset = int(rng.integers(0, FILE_NBYTES - 1))
                nbytes = int(rng.integers(1, FILE_NBYTES - offset + 1))
                m = _mapping.Mapping(data_fd, offset, nbytes)
                arr = np.frombuffer(m.buffer, np.uint8)
                assert arr[-1] == DATA[offset + nbytes - 1]
                m.close()
                del arr
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    gc.collect()
    assert _live() == live_before


def _run_child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("value", "guarded"), [("1", False), ("0", True)])
def test_recview_no_guard_env_var_forces_the_fallback(
    tmp_path: Path, value: str, guarded: bool
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    code = f"""
import os
from recview import _mapping
fd = os.open({str(path)!r}, os.O_RDONLY)
m = _mapping.Mapping(fd, 3, 5)
print(_mapping.GUARD_AVAILABLE, m.guarded, _mapping.ensure_guard(), bytes(m.buffer).hex())
print(_mapping.GUARD_ERROR)
"""
    proc = _run_child(code, RECVIEW_NO_GUARD=value)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first == f"{guarded} {guarded} {guarded} {DATA[3:8].hex()}"
    if guarded:
        assert second == "None"
    else:
        assert "RECVIEW_NO_GUARD" in second


def test_ensure_guard_reinstalls_after_faulthandler_enable() -> None:
    code = """
import faulthandler
from recview import _guard, _mapping
print(_guard.is_installed())
faulthandler.enable()
print(_guard.is_installed())
print(_mapping.ensure_guard(), _guard.is_installed())
faulthandler.disable()
print(_mapping.ensure_guard(), _guard.is_installed())
"""
    proc = _run_child(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False", "True", "True", "True", "True"]


def test_native_ensure_unblocks_sigbus_only_in_the_calling_thread() -> None:
    import signal

    from recview import _guard

    assert _mapping._UNBLOCKED == _guard.ENSURE_UNBLOCKED
    seen: list[object] = []

    def mask() -> set[int]:
        return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))

    def work() -> None:
        # this thread's mask dies with it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGBUS, signal.SIGUSR1})
        seen.append(_guard.ensure(False) & _guard.ENSURE_UNBLOCKED)
        seen.append(signal.SIGBUS in mask())
        seen.append(_guard.ensure() & _guard.ENSURE_UNBLOCKED)
        seen.append(sorted(mask() & {signal.SIGBUS, signal.SIGUSR1}))
        seen.append(_guard.ensure() & _guard.ENSURE_UNBLOCKED)

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert seen == [0, True, _guard.ENSURE_UNBLOCKED, [signal.SIGUSR1], 0]
    assert signal.SIGBUS not in mask()
