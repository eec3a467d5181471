"""Writers of ``recview convert``: .npy, Parquet, CSV and JSON lines, and the output file.

:class:`Output` writes to a temporary file beside the output and renames it
over the output only when the conversion has succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from recview._extras import require
from recview._vocab import round_up
from recview.cli._common import NDArray, UsageError
from recview.cli._render import Column, RowWriter
from recview.errors import RecviewError
from recview.interop import NotTextError, to_arrow
from recview.remote import local_path_of
from recview.schema import Schema


def npy_header(dtype: np.dtype[Any], count: int, nbytes: int | None = None) -> bytes:
    """A ``.npy`` header for ``count`` records, padded to ``nbytes`` when given.

    Padding with spaces before the newline is allowed by the format, which is
    how the header is rewritten in place once a stream's count is known.
    """
    text = repr(
        {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False, "shape": (count,)}
    )
    body = text.encode("latin1")
    for version, size_fmt in ((1, "<u2"), (2, "<u4")):
        prefix = 8 + np.dtype(size_fmt).itemsize
        total = nbytes or round_up(prefix + len(body) + 1 + 24, 64)
        hlen = total - prefix
        if hlen < len(body) + 1 or (version == 1 and hlen >= 1 << 16):
            continue
        padded = body + b" " * (hlen - len(body) - 1) + b"\n"
        return (
            b"\x93NUMPY" + bytes([version, 0]) + np.array([hlen], dtype=size_fmt).tobytes() + padded
        )
    raise ValueError("the .npy header does not fit")  # pragma: no cover


def _appends(fh: Any) -> bool:
    """Whether ``fh``'s descriptor is in append mode (every write at the end)."""
    import fcntl

    try:
        return bool(fcntl.fcntl(fh.fileno(), fcntl.F_GETFL) & os.O_APPEND)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


class NpyWriter:
    """Write records to ``.npy`` incrementally: header, then raw batches.

    All the fields give the schema's own dtype, every byte as it is (a union
    that numpy cannot describe, as chosen fields do, gives one field per
    leaf). ``.npy`` has no bitfields: a bitfield is written as its storage
    unit, the integer (or C's ``V<n>`` run of bytes) that holds it, under the
    storage's name, once for all its bitfields: the bits are kept exactly, and
    the same schema reads them back.
    """

    def __init__(self, fh: IO[bytes], columns: list[Column], schema: Schema, count: int | None):
        self.fh = fh
        self.count = 0
        self.expected = count
        self.schema = schema
        whole = len(columns) == len(schema.fields())
        try:
            npy_format.dtype_to_descr(schema.dtype)
        except ValueError:
            whole = False  # unions: numpy cannot describe overlapping fields
        # the dotted paths whose bytes are copied: a leaf, or a bitfield's storage
        self.paths = (
            None if whole else list(dict.fromkeys(c.info.storage or c.name for c in columns))
        )
        if self.paths is None:
            self.dtype: np.dtype[Any] = schema.dtype
        else:
            empty = np.zeros(0, schema.dtype)
            samples = [schema.get(empty, p) for p in self.paths]
            self.dtype = np.dtype(
                [(p, a.dtype, a.shape[1:]) for p, a in zip(self.paths, samples, strict=True)]
            )
        if count is None and not fh.seekable():
            raise UsageError("writing .npy from a stream needs a seekable output (not a pipe)")
        if count is None and _appends(fh):
            # the header is rewritten at the end: in append mode (>>) that
            # rewrite would land after the data, leaving a header of 0 records
            raise UsageError(
                "writing .npy from a stream rewrites its header at the end, and the output "
                "is in append mode (>>): write to a new file with -o FILE"
            )
        self.start = fh.tell() if count is None else 0
        self.header = npy_header(self.dtype, count or 0)
        fh.write(self.header)

    def write(self, arr: NDArray) -> None:
        if self.paths is not None:
            out = np.empty(len(arr), dtype=self.dtype)
            for p in self.paths:
                out[p] = self.schema.get(arr, p)
            arr = out
        data = np.ascontiguousarray(arr)
        self.fh.write(data.view(np.uint8).reshape(-1).data)
        self.count += len(arr)

    def close(self) -> None:
        if self.expected is None:
            self.fh.seek(self.start)
            self.fh.write(npy_header(self.dtype, self.count, len(self.header)))
        self.fh.flush()


class ParquetWriter:
    """Write record batches as Parquet row groups through :mod:`recview.interop`."""

    def __init__(
        self,
        fh: IO[bytes],
        columns: list[Column],
        schema: Schema,
        *,
        strings: str = "bytes",
        source: str = "<records>",
        offset: int = 0,
    ) -> None:
        require("pyarrow", extra="arrow", purpose="recview convert to Parquet")
        self.pq = require("pyarrow.parquet", extra="arrow", purpose="recview convert to Parquet")
        self.fh = fh
        self.schema = schema
        self.names = [c.name for c in columns]
        self.all = len(columns) == len(schema.fields())
        # Lossless by default: char[n] fields as their exact bytes; "text"
        # decodes them as UTF-8 (strict: bytes that are not text are an error).
        self.strings = "text" if strings == "text" else "bytes"
        self.source = source
        self.offset = offset
        self.columns = columns
        self.rows = 0
        self.writer: Any = None

    def _table(self, arr: NDArray) -> Any:
        return to_arrow(
            arr,
            schema=self.schema,
            columns=None if self.all else self.names,
            strings=self.strings,  # type: ignore[arg-type]
        )

    def write(self, arr: NDArray) -> None:
        try:
            table = self._table(arr)
        except NotTextError as err:
            record = self.rows + err.record
            field = next((c.info for c in self.columns if c.name == err.field), None)
            at = self.offset + record * self.schema.itemsize
            at += (field.offset if field else 0) + (err.offset or 0)
            raise RecviewError(
                f"{self.source}: record {record:,}, field {err.field!r}, byte offset {at:,}: "
                "not UTF-8 text (--strings bytes keeps the exact bytes)",
                path=self.source,
                offset=at,
                field=err.field,
            ) from err
        self.rows += len(arr)
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.fh, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:  # no records: still write a valid, empty file
            table = self._table(np.empty(0, self.schema.dtype))
            self.writer = self.pq.ParquetWriter(self.fh, table.schema)
        self.writer.close()

    def abort(self) -> None:
        """Close pyarrow's writer after a failure (its finalizer would print
        a traceback once the file is gone); the output is discarded anyway."""
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


CONVERT_FORMATS = ("csv", "jsonl", "npy", "parquet")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _stat(name: str, stream: Any) -> os.stat_result | None:
    """``stat`` of a path, or of ``stream``'s descriptor for ``-``; None when
    there is none (a URL, a stream without a descriptor)."""
    # A file:// URL names a local file too: the same file, by another name.
    name = local_path_of(name) or name
    try:
        return os.fstat(stream.fileno()) if name == "-" else os.stat(name)
    except (OSError, ValueError, AttributeError):
        return None


def refuse_own_input(args: argparse.Namespace, doing: str = "converting") -> None:
    """A usage error when the output is the input file, by any name.

    Symlinks (of the file or of a folder on the way) and hard links are the
    same file: writing the output would destroy the records being read.
    ``doing`` names the write in the message (``guess`` and ``plot`` write
    files too).
    """
    src = _stat(args.file, sys.stdin)
    if src is None or not stat.S_ISREG(src.st_mode):
        return
    out = _stat(args.output, sys.stdout)
    if out is not None and _same_file(src, out):
        where = "standard output" if args.output == "-" else repr(args.output)
        name = "standard input" if args.file == "-" else repr(args.file)
        raise UsageError(
            f"the output {where} is the input file {name}: {doing} would destroy it "
            "(choose another -o)"
        )


def descriptor_of(path: str) -> int | None:
    """The open descriptor a path names (``/dev/stdout``, ``/dev/fd/3``,
    ``/proc/self/fd/3``), or None for any other path.

    Examples
    --------
    >>> descriptor_of("/dev/stdout"), descriptor_of("/dev/fd/7"), descriptor_of("/dev/shm/x")
    (1, 7, None)
    """
    p = os.path.abspath(path)
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
    if p in named:
        return named[p]
    for prefix in ("/dev/fd/", "/proc/self/fd/", f"/proc/{os.getpid()}/fd/"):
        rest = p[len(prefix) :]
        if p.startswith(prefix) and rest.isdigit():
            return int(rest)
    return None


class Output:
    """The file ``convert`` writes, replaced only when the conversion succeeds.

    A regular (or new) output is written to a temporary file in the same
    folder, which :meth:`commit` renames over it: a failure, an interrupt or
    a file cut under the reader leaves the old output as it was, and only the
    temporary file is removed. The new file gets the old one's mode bits (or
    the usual ``0o666`` less the umask). Something that is not a regular file
    (``/dev/null``, a FIFO, ``/dev/stdout``, a terminal) is written directly
    and never removed: recview did not create it. A symlink is followed, so
    the file it points at is the one replaced.
    """

    def __init__(self, path: str, *, binary: bool) -> None:
        self.path = path
        self._tmp: str | None = None
        real = os.path.realpath(path)
        try:
            st: os.stat_result | None = os.stat(real)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        fdnum = descriptor_of(path)
        if fdnum is not None:
            # /dev/stdout, /dev/fd/N: the descriptor itself, as the shell opened
            # it (> or >>, its position): reopening the path would append.
            try:
                raw: IO[bytes] = os.fdopen(os.dup(fdnum), "wb", buffering=0)
            except OSError as err:
                raise OSError(err.errno, err.strerror, path) from err
        elif st is not None and not stat.S_ISREG(st.st_mode):
            # A device or a FIFO: nothing to truncate, nothing recview may remove.
            raw = open(path, "ab", buffering=0)  # noqa: SIM115
        else:  # a regular file, wherever it lives (/dev/shm too): replaced whole
            self._real = real
            # Signals wait until the temporary file is recorded and wrapped: one
            # that landed between mkstemp and the assignment would leave a file
            # nobody knows the name of.
            with _signals_held():
                try:
                    fd, self._tmp = tempfile.mkstemp(
                        dir=os.path.dirname(real),
                        prefix=f".{os.path.basename(real)}.",
                        suffix=".tmp",
                    )
                except OSError as err:  # say the output, not the temporary name
                    raise OSError(err.errno, err.strerror, path) from err
                _PENDING.add(self)
                file: IO[bytes] | None = None
                try:
                    os.fchmod(fd, stat.S_IMODE(st.st_mode) if st else 0o666 & ~_umask())
                    if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                        with contextlib.suppress(OSError):
                            os.fchown(fd, st.st_uid, st.st_gid)
                    file = os.fdopen(fd, "wb", buffering=0)
                    self.fh = self._wrap(file, binary)
                except BaseException:
                    with contextlib.suppress(OSError):
                        file.close() if file is not None else os.close(fd)
                    self.abort()
                    raise
            return
        self.fh = self._wrap(raw, binary)

    @staticmethod
    def _wrap(raw: IO[bytes], binary: bool) -> Any:
        buffered = io.BufferedWriter(raw)
        return buffered if binary else io.TextIOWrapper(buffered, encoding="utf-8", newline="")

    def commit(self) -> None:
        """Finish: flush, close and move the output into place."""
        self.fh.close()
        if self._tmp is not None:
            os.replace(self._tmp, self._real)
            self._tmp = None
        _PENDING.discard(self)

    def abort(self) -> None:
        """Give up: close, and remove the temporary file (nothing else)."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.fh.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None
        _PENDING.discard(self)


# Outputs whose temporary file exists and is neither renamed nor removed yet:
# a signal can arrive as Output() returns, before its caller holds it, so
# ``convert`` aborts whatever is left here on its way out.
_PENDING: set[Output] = set()


def abort_pending() -> None:
    """Remove the temporary files of all outputs not committed or aborted."""
    for output in list(_PENDING):
        output.abort()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait until the block ends, then their Python
    handlers run (KeyboardInterrupt, the CLI's unwinding). Blocking them in
    this thread would not do: the kernel hands a process's signal to any
    thread that does not block it (numpy's BLAS threads), and Python then
    runs the handler in this one at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        handler = signal.getsignal(sig)
        if callable(handler):
            held[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for held_sig, held_handler in held.items():
            signal.signal(held_sig, held_handler)
        for signum in caught:
            held[signum](signum, None)


def format_of(output: str, to: str | None = None) -> str:
    """The format to write: ``to`` when given, else told from ``output``'s suffix.

    Examples
    --------
    >>> format_of("x.ndjson"), format_of("x.PQ"), format_of("-", "csv")
    ('jsonl', 'parquet', 'csv')
    """
    if to:
        return to
    suffix = os.path.splitext(output)[1].lower().lstrip(".")
    aliases = {"ndjson": "jsonl", "pq": "parquet"}
    fmt = aliases.get(suffix, suffix)
    if fmt not in CONVERT_FORMATS:
        raise UsageError(
            f"cannot tell the format of {output!r} from its suffix: "
            f"use .csv, .jsonl, .npy or .parquet, or --to"
        )
    return fmt


def open_writer(
    fmt: str,
    fh: Any,
    columns: list[Column],
    schema: Schema,
    *,
    records: int | None,
    strings: str = "bytes",
    source: str = "<records>",
    offset: int = 0,
) -> Any:
    """The writer of ``fmt`` (one of :data:`CONVERT_FORMATS`) on ``fh``.

    ``fh`` is binary for ``npy`` and ``parquet``, text for ``csv`` and
    ``jsonl``; ``records`` is the record count when known (``None`` for a
    stream: the ``.npy`` header is then rewritten at the end). Each writer has
    ``write(batch)`` and ``close()``; Parquet's also has ``abort()``.
    """
    if fmt == "npy":
        return NpyWriter(fh, columns, schema, records)
    if fmt == "parquet":
        return ParquetWriter(fh, columns, schema, strings=strings, source=source, offset=offset)
    return RowWriter(fh, columns, fmt, index=False)
