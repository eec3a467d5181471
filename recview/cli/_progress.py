"""Progress bars and run figures for the ``recview`` command line.

This module owns what the CLI reports about a run rather than about the data:
a progress bar on standard error (tqdm when it is installed, else a small
built-in bar) and the figures of a scan — wall time, throughput, peak resident
memory, page faults and the bytes the process has mapped from the input file.

Nothing here knows about schemas or views: the CLI feeds byte counts in. The
memory figures come from ``resource.getrusage`` and, on Linux,
``/proc/self/status`` (``VmHWM``/``VmRSS``) and ``/proc/self/maps``; where
those are missing the figures are ``None`` and printed as ``n/a``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from recview._extras import optional

if sys.platform != "win32":  # resource is POSIX-only
    import resource

__all__ = [
    "Meter",
    "Progress",
    "RunFigures",
    "format_nbytes",
    "make_progress",
    "mapped_nbytes",
    "peak_rss_nbytes",
]


def format_nbytes(nbytes: float | None) -> str:
    """Format a byte count with a binary unit (``"1.5 MiB"``).

    Parameters
    ----------
    nbytes : float or None
        A number of bytes; ``None`` gives ``"n/a"``.

    Returns
    -------
    str
        The count with one decimal and the largest unit that keeps it >= 1.

    Examples
    --------
    >>> format_nbytes(512), format_nbytes(1536), format_nbytes(3 * 2**30), format_nbytes(None)
    ('512 B', '1.5 KiB', '3.0 GiB', 'n/a')
    """
    if nbytes is None:
        return "n/a"
    if abs(nbytes) < 1024:
        return f"{int(nbytes)} B"
    value = float(nbytes)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024.0
        if abs(value) < 1024.0 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _proc_status_kib(key: str) -> int | None:
    """A ``kB`` figure from ``/proc/self/status`` (``VmHWM``, ``VmRSS``), or None."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_nbytes() -> int | None:
    """Peak resident set size of this process so far, in bytes.

    ``VmHWM`` from ``/proc/self/status`` where available (Linux), else
    ``ru_maxrss`` from ``getrusage`` (kilobytes on Linux, bytes on macOS).

    Returns
    -------
    int or None
        Bytes, or ``None`` when the platform reports neither.

    Examples
    --------
    >>> peak = peak_rss_nbytes()
    >>> peak is None or peak > 0
    True
    """
    kib = _proc_status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    if sys.platform == "win32":  # pragma: no cover
        return None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss) if sys.platform == "darwin" else int(maxrss) * 1024


def _rss_nbytes() -> int | None:
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib * 1024


def mapped_nbytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes this process currently maps from ``path`` (sum over ``/proc/self/maps``).

    Parameters
    ----------
    path : str or path-like
        The file whose mappings are counted (compared by inode and device,
        so symlinks and relative paths do not matter).

    Returns
    -------
    int or None
        The total length of the address ranges mapping the file (0 when it
        is not mapped), or ``None`` where ``/proc/self/maps`` does not exist.

    Examples
    --------
    >>> import mmap, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(bytes(mmap.PAGESIZE * 2))
    >>> before = mapped_nbytes(path)
    >>> with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
    ...     during = mapped_nbytes(path)
    >>> before in (0, None) and during in (mmap.PAGESIZE * 2, None)
    True
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    want_inode = st.st_ino
    want_dev = (os.major(st.st_dev), os.minor(st.st_dev))
    total = 0
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) < 5 or parts[4] != str(want_inode):
                    continue
                major, minor = (int(x, 16) for x in parts[3].split(":"))
                if (major, minor) != want_dev:
                    continue
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                total += hi - lo
    except (OSError, ValueError):
        return None
    return total


@dataclass
class RunFigures:
    """What a scan cost: time, throughput, memory, faults and mappings.

    Attributes
    ----------
    wall_seconds : float
        Elapsed wall-clock time.
    nbytes : int
        Input bytes processed (records times record size).
    records : int
        Records processed.
    peak_rss_nbytes, start_rss_nbytes : int or None
        Peak resident set size of the process (``VmHWM``) at the end of the
        scan, and the resident size when it started.
    minor_faults, major_faults : int or None
        Page faults during the scan (``getrusage``): minor ones are served
        from the page cache, major ones needed disk I/O.
    mapped_nbytes : int or None
        The most bytes of the input file mapped at once during the scan
        (``/proc/self/maps``), 0 for streams.
    """

    wall_seconds: float = 0.0
    nbytes: int = 0
    records: int = 0
    peak_rss_nbytes: int | None = None
    start_rss_nbytes: int | None = None
    minor_faults: int | None = None
    major_faults: int | None = None
    mapped_nbytes: int | None = None

    @property
    def throughput(self) -> float:
        """Bytes per second (0 when no time elapsed)."""
        return self.nbytes / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (throughput included)."""
        return {
            "wall_seconds": self.wall_seconds,
            "records": self.records,
            "nbytes": self.nbytes,
            "throughput_nbytes_per_second": self.throughput,
            "peak_rss_nbytes": self.peak_rss_nbytes,
            "start_rss_nbytes": self.start_rss_nbytes,
            "minor_faults": self.minor_faults,
            "major_faults": self.major_faults,
            "mapped_nbytes": self.mapped_nbytes,
        }

    def lines(self) -> list[str]:
        """Human-readable ``name  value`` lines.

        Examples
        --------
        >>> figures = RunFigures(wall_seconds=2.0, nbytes=2 * 2**20, records=65536)
        >>> print("\\n".join(figures.lines()[:2]))
        wall time      2.000 s
        throughput     1.0 MiB/s (32,768 records/s)
        """

        def count(n: int | None) -> str:
            return "n/a" if n is None else f"{n:,}"

        rate = self.records / self.wall_seconds if self.wall_seconds > 0 else 0.0
        return [
            f"wall time      {self.wall_seconds:.3f} s",
            f"throughput     {format_nbytes(self.throughput)}/s ({rate:,.0f} records/s)",
            (
                f"peak RSS       {format_nbytes(self.peak_rss_nbytes)}"
                f" (at start {format_nbytes(self.start_rss_nbytes)})"
            ),
            f"page faults    {count(self.minor_faults)} minor, {count(self.major_faults)} major",
            f"bytes mapped   {format_nbytes(self.mapped_nbytes)} (most at once)",
        ]


def _faults() -> tuple[int | None, int | None]:
    if sys.platform == "win32":  # pragma: no cover
        return None, None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int(usage.ru_minflt), int(usage.ru_majflt)


@dataclass
class Meter:
    """Measure a scan: call :meth:`add` per batch, then :meth:`stop`.

    Parameters
    ----------
    path : str or None
        The input file, whose mapped bytes are sampled while the scan runs
        (``None`` for streams: 0 bytes mapped).
    sample_seconds : float
        Least time between two samples of ``/proc/self/maps``.

    Examples
    --------
    >>> meter = Meter(None)
    >>> meter.add(records=10, nbytes=320)
    >>> figures = meter.stop()
    >>> figures.records, figures.nbytes, figures.mapped_nbytes
    (10, 320, 0)
    """

    path: str | None = None
    sample_seconds: float = 0.2
    _t0: float = field(default=0.0, init=False, repr=False)
    _last_sample: float = field(default=0.0, init=False, repr=False)
    _faults0: tuple[int | None, int | None] = field(default=(None, None), init=False, repr=False)
    figures: RunFigures = field(default_factory=RunFigures, init=False)

    def __post_init__(self) -> None:
        self._faults0 = _faults()
        self.figures.start_rss_nbytes = _rss_nbytes()
        self.figures.mapped_nbytes = 0 if self.path is None else mapped_nbytes(self.path)
        self._t0 = self._last_sample = time.perf_counter()

    def sample(self) -> None:
        """Sample the mapped bytes now (the maximum over the scan is kept)."""
        if self.path is None:
            return
        now = mapped_nbytes(self.path)
        if now is not None:
            before = self.figures.mapped_nbytes or 0
            self.figures.mapped_nbytes = max(before, now)

    def add(self, *, records: int, nbytes: int) -> None:
        """Account one batch; samples the mappings at most every ``sample_seconds``."""
        self.figures.records += records
        self.figures.nbytes += nbytes
        now = time.perf_counter()
        if now - self._last_sample >= self.sample_seconds:
            self._last_sample = now
            self.sample()

    def stop(self) -> RunFigures:
        """Freeze the figures (wall time, faults, peak RSS) and return them."""
        self.sample()
        self.figures.wall_seconds = time.perf_counter() - self._t0
        minor, major = _faults()
        if minor is not None and self._faults0[0] is not None:
            self.figures.minor_faults = minor - self._faults0[0]
        if major is not None and self._faults0[1] is not None:
            self.figures.major_faults = major - self._faults0[1]
        self.figures.peak_rss_nbytes = peak_rss_nbytes()
        return self.figures


class Progress(Protocol):
    """What the CLI needs of a progress bar."""

    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


class _NullProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _SimpleProgress:
    """A one-line progress bar for when tqdm is not installed."""

    def __init__(self, total: int | None, desc: str, stream: IO[str], interval: float) -> None:
        self.total = total
        self.desc = desc
        self.stream = stream
        self.done = 0
        self.interval = interval
        self.t0 = time.perf_counter()
        self.last = 0.0

    def _render(self) -> str:
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        rate = f"{format_nbytes(self.done / elapsed)}/s"
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(frac * 30)
            bar = "#" * filled + "-" * (30 - filled)
            return (
                f"\r{self.desc} {frac:4.0%} [{bar}] {format_nbytes(self.done)}"
                f"/{format_nbytes(self.total)} {rate}"
            )
        return f"\r{self.desc} {format_nbytes(self.done)} {rate}"

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            self.stream.write(self._render())
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(self._render() + "\n")
        self.stream.flush()


def make_progress(
    total: int | None,
    *,
    desc: str = "recview",
    enabled: bool | None = None,
    stream: IO[str] | None = None,
    prefer_tqdm: bool = True,
) -> Progress:
    """A byte-counting progress bar on standard error, or a silent stand-in.

    Parameters
    ----------
    total : int or None
        Total bytes expected (``None`` for a stream of unknown length).
    desc : str
        Label shown before the bar.
    enabled : bool or None
        Force the bar on or off; ``None`` shows it only when ``stream`` is a
        terminal (so pipes and log files never get control characters).
    stream : text file or None
        Where the bar goes; standard error by default. Never standard output,
        which carries the data.
    prefer_tqdm : bool
        Use tqdm when it is importable (the ``recview[progress]`` extra).

    Returns
    -------
    Progress
        An object with ``update(nbytes)`` and ``close()``.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = make_progress(100, desc="scan", enabled=True, stream=out, prefer_tqdm=False)
    >>> bar.update(50); bar.close()
    >>> "scan" in out.getvalue() and "50%" in out.getvalue()
    True
    >>> quiet = make_progress(100, stream=io.StringIO())  # not a terminal: silent
    >>> quiet.update(100); quiet.close()
    """
    out = sys.stderr if stream is None else stream
    if enabled is None:
        isatty = getattr(out, "isatty", None)
        enabled = bool(isatty and isatty())
    if not enabled:
        return _NullProgress()
    tqdm_module = optional("tqdm") if prefer_tqdm else None
    if tqdm_module is not None:
        bar: Progress = tqdm_module.tqdm(
            total=total,
            desc=desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=out,
            leave=False,
            dynamic_ncols=True,
        )
        return bar
    return _SimpleProgress(total, desc, out, interval=0.1)
