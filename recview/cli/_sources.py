"""Sources: where a command's records come from, and how they are read.

A regular file is opened with :func:`recview.open` (memory-mapped, or
``--mode pread``), and so is a URL (``s3://``, ``https://``, ``file://``...:
ranged reads, with ``--storage-option KEY=VALUE``); standard input (``-``),
compressed files (local or at a URL) and anything that is not a regular file
(a FIFO, ``<(zcat x.gz)``, a socket, a device) are read once, in order,
through :func:`recview.stream`, counting the bytes they hand out. A ``.npy``
file needs no ``--schema``: its header gives the schema, offset and count.
:func:`scan` walks a source in batches with the progress bar and the run
figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import numpy as np

from recview import formats
from recview._extras import require
from recview._npy import npy_layout
from recview.cli._common import BATCH_NBYTES, NDArray, UsageError
from recview.cli._progress import Meter, Progress, RunFigures, make_progress
from recview.cli._spec import load_schema
from recview.compressed import COMPRESSED_SUFFIXES, decompressing, open_compressed
from recview.errors import LayoutError, RecviewError, TruncatedError
from recview.frames import Frames, open_frames
from recview.interop import to_arrow
from recview.remote import RemoteSource, is_url, remote_npy_layout
from recview.schema import Schema
from recview.streams import stream
from recview.view import open as open_view


class CountingReader:
    """A binary reader that counts the bytes it hands out (for stream sizes).

    Each read returns the source's own count, whatever it is: ``None`` (a
    non-blocking source with no data yet), a float or a count larger than the
    buffer are not ends of the stream, and :func:`recview.stream` raises a
    ``LayoutError`` naming :attr:`name` for them. Only ``int`` counts are
    added to :attr:`nbytes`.
    """

    def __init__(self, raw: IO[bytes], *, name: str | None = None) -> None:
        self.raw = raw
        self.nbytes = 0
        self.name: str = name or str(getattr(raw, "name", "<stream>"))

    def _counted(self, n: Any) -> Any:
        if type(n) is int and n > 0:
            self.nbytes += n
        return n

    def readinto(self, buffer: Any) -> Any:
        readinto = getattr(self.raw, "readinto", None)
        if readinto is None:  # pragma: no cover - every stream recview opens has readinto
            data = self.raw.read(len(buffer))
            memoryview(buffer)[: len(data)] = data
            return self._counted(len(data))
        return self._counted(readinto(buffer))

    def readinto1(self, buffer: Any) -> Any:
        # Forwarded so that rv.stream hands records on as they arrive on stdin
        # (one short read) instead of waiting for a full buffer.
        readinto1 = getattr(self.raw, "readinto1", None)
        if readinto1 is None:
            return self.readinto(buffer)
        return self._counted(readinto1(buffer))

    def fileno(self) -> int:
        # Forwarded so that rv.stream can widen a pipe on standard input.
        return int(self.raw.fileno())


class Source:
    """Records of one input, as a view over a file or a one-pass stream.

    Attributes
    ----------
    name : str
        The path, or ``<stdin>``.
    schema : Schema
    offset : int
        Header bytes.
    records : int or None
        Number of records (``None`` for a stream until it has been read).
    file_nbytes : int or None
        Size of the file (``None`` for a stream until it has been read).
    """

    def __init__(
        self,
        name: str,
        schema: Schema,
        *,
        offset: int,
        count: int | None,
        trailing: str,
        mode: str,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.schema = schema
        self.offset = offset
        self.count = count
        self.trailing = trailing
        self.view: Any = None
        self._reader: CountingReader | None = None
        self._close: Callable[[], object] | None = None
        self.records: int | None = None
        self.file_nbytes: int | None = None
        if name == "-" or name.lower().endswith(COMPRESSED_SUFFIXES) or _is_stream(name):
            if name == "-":
                raw: IO[bytes] = sys.stdin.buffer
                self.name = "<stdin>"
            elif name.lower().endswith(COMPRESSED_SUFFIXES):
                raw = (
                    _open_compressed_url(name, storage_options)
                    if is_url(name)
                    else open_compressed(name)
                )
                self._close = raw.close
            else:  # a FIFO, <(zcat x.gz), /dev/fd/N, a socket, a device
                raw = open(name, "rb")  # noqa: SIM115 - closed by close()
                self._close = raw.close
            self._reader = CountingReader(raw, name=self.name)
        else:
            url = is_url(name)
            self.view = open_view(
                name,
                schema,
                offset=offset,
                count=count,
                trailing=trailing,  # type: ignore[arg-type]
                mode=mode,  # type: ignore[arg-type]
                storage_options=storage_options if url else None,
            )
            self._close = self.view.close
            self.records = len(self.view)
            self.file_nbytes = self.view.source.nbytes if url else os.path.getsize(name)

    @property
    def seekable(self) -> bool:
        """Whether records can be read in any order (a file, not a stream)."""
        return self.view is not None

    @property
    def total_nbytes(self) -> int | None:
        """Bytes of records, when known (for progress bars)."""
        return None if self.records is None else self.records * self.schema.itemsize

    def batches(self, *, start: int = 0, nbytes: int = BATCH_NBYTES) -> Iterator[NDArray]:
        """Batches of records from record ``start`` on, in order."""
        if self.view is not None:
            with self._said_as_lost_records():
                yield from self.view.batches(nbytes=nbytes, start=start)
            self.verify()
            return
        if self._reader is None:
            raise RecviewError(f"{self.name}: a stream can be read only once")
        reader, self._reader = self._reader, None
        trailing: Any = "ignore" if self.count is not None else self.trailing
        seen = 0
        gen: Any = stream(reader, self.schema, offset=self.offset, trailing=trailing)
        try:
            for batch in gen:
                if self.count is not None and seen + len(batch) >= self.count:
                    batch = batch[: self.count - seen]
                lo = max(0, start - seen)
                seen += len(batch)
                if lo < len(batch):
                    yield batch[lo:]
                if self.count is not None and seen >= self.count:
                    break
        finally:
            gen.close()
        if self.count is not None and seen < self.count:
            raise LayoutError(
                f"{self.name}: stream ended after {seen:,} records of "
                f"{self.schema.itemsize:,} bytes; --count asked for {self.count:,}",
                path=self.name,
            )
        self.records = seen
        self.file_nbytes = reader.nbytes if self.count is None else None

    def verify(self) -> None:
        """Fail if the file shrank (or lost pages) since it was opened.

        Records past the new end of a file cut inside its last page read as
        zeros without any fault, so what was read is trusted only once the
        size has been checked again, after the read.
        """
        if self.view is None:
            return
        with self._said_as_lost_records():
            self.view.refresh()

    @contextlib.contextmanager
    def _said_as_lost_records(self) -> Iterator[None]:
        try:
            yield
        except TruncatedError as err:
            raise self._lost(err) from err

    def _lost(self, err: TruncatedError) -> TruncatedError:
        """The view's error, said as the records the command lost."""
        isz = self.schema.itemsize
        total = self.records or 0
        new = err.new_nbytes
        kept = total if new is None else min(total, max(0, (new - self.offset) // isz))
        if new is not None and kept < total:
            what = (
                f"the file shrank to {new:,} bytes while it was read: the last "
                f"{total - kept:,} records of {total:,} (from record {kept:,}, byte offset "
                f"{self.offset + kept * isz:,}) were lost"
            )
        else:
            what = "the file lost pages while it was read (they read as zeros)"
        return TruncatedError(
            f"{self.name}: {what}; nothing was kept (run again on a file that is not cut)",
            path=self.name,
            offset=self.offset + kept * isz,
            old_nbytes=err.old_nbytes,
            new_nbytes=new,
        )

    def take(self, rows: slice) -> tuple[NDArray, int, int]:
        """Records selected by ``rows``; returns (records, first index, step)."""
        if self.view is not None:
            start, stop, step = rows.indices(len(self.view))
            with self._said_as_lost_records():
                return self.view[rows], start, step
        start, stop, step = rows.start or 0, rows.stop, rows.step or 1
        if start < 0 or (stop is not None and stop < 0) or step < 0:
            raise UsageError(f"{self.name}: negative rows need a file, not a stream")
        parts: list[NDArray] = []
        for batch, first in self._indexed():
            if stop is not None and first >= stop:
                break
            lo = max(start - first, 0)
            lo += (start - first - lo) % step  # first index on the step grid
            hi = len(batch) if stop is None else min(len(batch), stop - first)
            if lo < hi:
                parts.append(batch[lo:hi:step])
        return _concat(parts, self.schema), start, step

    def tail(self, n: int) -> tuple[NDArray, int]:
        """The last ``n`` records and the index of the first of them."""
        if self.view is not None:
            total = len(self.view)
            first = max(0, total - n)
            with self._said_as_lost_records():
                return self.view[first:], first
        keep = _concat([], self.schema)
        total = 0
        for batch, _first in self._indexed():
            total += len(batch)
            keep = np.concatenate([keep, batch[-n:]])[-n:] if n else keep
        return keep, total - len(keep)

    def _indexed(self) -> Iterator[tuple[NDArray, int]]:
        first = 0
        for batch in self.batches():
            yield batch, first
            first += len(batch)

    def close(self) -> None:
        """Release the file (idempotent)."""
        if self._close is not None:
            close, self._close = self._close, None
            close()


def _open_compressed_url(url: str, storage_options: dict[str, Any] | None) -> IO[bytes]:
    """A compressed object at a URL, decompressed as it is read.

    By recview's own readers (:func:`recview.compressed.decompressing`), not
    fsspec's ``compression="infer"`` codecs: those are the standard library's
    and zstandard's, which end a cut ``.zst``, a corrupt later ``.bz2``/``.xz``
    member or trailing garbage quietly, as a shorter stream.
    """
    fsspec = require("fsspec", extra="remote", purpose="reading URLs")
    try:
        raw: IO[bytes] = fsspec.open(url, "rb", **(storage_options or {})).open()
    except FileNotFoundError as err:
        raise FileNotFoundError(2, "No such object", url) from err
    try:
        return decompressing(raw, url)
    except BaseException:
        raw.close()
        raise


def _is_stream(path: str) -> bool:
    """Whether ``path`` names something to read once, in order: anything that
    exists and is neither a regular file nor a folder (a FIFO, a character
    device, a socket, ``/dev/fd/N`` of a pipe). A path that cannot be stat'ed
    (missing, a URL) is left to :func:`recview.open`, which says why.

    Also a regular file that says it is empty but holds bytes: procfs
    (``/proc/self/auxv``, ``/proc/version``) reports ``st_size == 0`` for
    files with content, which a view would count as 0 records. One 1-byte
    read tells, for empty-looking files only."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return False
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        try:
            with open(path, "rb", buffering=0) as f:
                return bool(f.read(1))
        except OSError:
            return False  # recview.open says why
    return not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))


def _concat(parts: Sequence[NDArray], schema: Schema) -> NDArray:
    if not parts:
        return np.empty(0, dtype=schema.dtype)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The options of where records come from, beyond ``FILE`` itself."""
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="for a URL FILE (s3://, gs://, https://...): an fsspec storage option, "
        "repeatable; VALUE is JSON when it parses (true, 3, {...}) and text otherwise; "
        "a dotted KEY nests (client_kwargs.endpoint_url=http://127.0.0.1:9000)",
    )


def parse_storage_options(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items as fsspec storage options (a dotted key nests).

    Examples
    --------
    >>> parse_storage_options(["anon=true", "client_kwargs.endpoint_url=http://h:9000",
    ...                        "client_kwargs.region_name=eu", "key=ab=c"])
    {'anon': True, 'client_kwargs': {'endpoint_url': 'http://h:9000', 'region_name': 'eu'}, 'key': 'ab=c'}
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UsageError(f"--storage-option {item!r}: expected KEY=VALUE")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        where = options
        *parents, last = key.split(".")
        for part in parents:
            inner = where.setdefault(part, {})
            if not isinstance(inner, dict):
                raise UsageError(f"--storage-option {item!r}: {part!r} is already a value")
            where = inner
        where[last] = value
    return options


def storage_options_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``--storage-option`` items of ``args``; a usage error for a local FILE."""
    items = getattr(args, "storage_options", None) or []
    if not items:
        return None
    if not is_url(args.file):
        raise UsageError(
            f"--storage-option is for a URL FILE (s3://, https://...), not {args.file!r}"
        )
    return parse_storage_options(items)


def open_source(args: argparse.Namespace, *, trailing: str | None = None) -> Source:
    if wants_frames(args):
        return frames_source(args, trailing=trailing)
    schema, _where = schema_of(args)
    offset, count = args.offset, args.count
    npy = getattr(args, "_npy", None)
    if npy is not None:
        offset, count = npy.offset, npy.count
    return Source(
        args.file,
        schema,
        offset=offset,
        count=count,
        trailing=trailing or args.trailing or "error",
        mode=args.mode,
        storage_options=storage_options_of(args),
    )


def schema_of(args: argparse.Namespace) -> tuple[Schema, str]:
    """The schema of ``--schema``, or of a ``.npy`` FILE's header when there is none
    (for frames: the frame records', once :func:`open_source` has opened them)."""
    cached: tuple[Schema, str] | None = getattr(args, "_schema", None)
    if cached is None:
        if not args.schema:
            cached = _npy_schema(args)
        else:
            byteorder = {"little": "<", "big": ">", "native": "="}[args.byteorder]
            cached = load_schema(
                args.schema,
                byteorder=byteorder,
                packed=args.packed,
                include_dirs=getattr(args, "include_dirs", None) or (),
                cpp=getattr(args, "cpp", False),
            )
        args._schema = cached
    return cached


def _npy_schema(args: argparse.Namespace) -> tuple[Schema, str]:
    name = str(args.file)
    if not name.lower().endswith(".npy") or name == "-":
        raise UsageError("this command needs --schema/-s (try 'recview guess FILE' first)")
    if args.offset or args.count is not None:
        raise UsageError(
            f"{name}: a .npy file without --schema gives its own header size and record "
            "count; --offset and --count need --schema"
        )
    if is_url(name):
        with RemoteSource(name, storage_options=storage_options_of(args)) as source:
            layout = remote_npy_layout(source)
    else:
        layout = npy_layout(name)
    args._npy = layout
    return layout.schema, f".npy header ({layout.offset:,} bytes)"


def progress_for(args: argparse.Namespace, total: int | None, desc: str) -> Progress:
    enabled = True if args.progress else (False if args.quiet else None)
    return make_progress(total, desc=desc, enabled=enabled)


def scan(
    args: argparse.Namespace, src: Source, desc: str, consume: Callable[[NDArray], None]
) -> RunFigures:
    meter = Meter(src.name if src.view is not None and src.view.mode == "mmap" else None)
    bar = progress_for(args, src.total_nbytes, desc)
    try:
        for batch in src.batches(nbytes=args.batch_nbytes):
            consume(batch)
            nbytes = len(batch) * src.schema.itemsize
            meter.add(records=len(batch), nbytes=nbytes)
            bar.update(nbytes)
        meter.sample()  # the last window is still mapped here
    finally:
        bar.close()
    return meter.stop()


# -- framed records -------------------------------------------------------------------

#: The columns each frame record has after its header's fields.
PAYLOAD_FIELDS = (("payload_offset", "<i8"), ("payload_nbytes", "<i8"))


def add_frames_options(parser: argparse.ArgumentParser) -> None:
    """The options that read FILE as framed records."""
    group = parser.add_argument_group("framed records (variable-size frames)")
    group.add_argument(
        "--frames",
        choices=("pcap", "fortran"),
        help="read FILE as frames: a pcap capture (packets), or a Fortran unformatted "
        "sequential file (records between length markers)",
    )
    group.add_argument(
        "--frames-length",
        metavar="FIELD",
        help="read FILE as frames whose header (--frames-header, or -s) has this "
        "integer field holding the payload's byte length",
    )
    group.add_argument(
        "--frames-header",
        metavar="SPEC",
        help="the frame header's layout for --frames-length (as --schema; default: -s)",
    )
    group.add_argument(
        "--adjust",
        type=int,
        default=0,
        metavar="NBYTES",
        help="added to the length field to get the payload length "
        "(negative when the length counts the header)",
    )
    group.add_argument(
        "--trailer",
        type=int,
        default=0,
        metavar="NBYTES",
        help="bytes after each payload (equal to the length field's size: an end "
        "marker that must repeat it)",
    )
    group.add_argument(
        "--marker",
        choices=("<i4", ">i4", "<i8", ">i8"),
        default="<i4",
        help="--frames fortran: the record markers' type (default <i4, gfortran on x86)",
    )
    group.add_argument(
        "--index",
        metavar="PATH",
        help="keep the frame index in this file: a later run reuses it (and extends it "
        "when FILE grew) instead of scanning FILE again",
    )


def wants_frames(args: argparse.Namespace) -> bool:
    """Whether ``args`` read FILE as framed records."""
    return bool(getattr(args, "frames", None) or getattr(args, "frames_length", None))


class FramesSource(Source):
    """The frames of one file, as a source whose records are header + payload place.

    Attributes
    ----------
    frames : Frames
        The indexed file.
    """

    def __init__(self, name: str, frames: Frames, *, what: str) -> None:
        header = frames.schema
        taken = set(header.dtype.names or ())
        clash = [n for n, _ in PAYLOAD_FIELDS if n in taken]
        if clash:
            frames.close()
            raise UsageError(
                f"{name}: the frame header already has a field {clash[0]!r}; rename it"
            )
        fields: Any = header.dtype.fields or {}
        descr = [(n, fields[n][0]) for n in header.dtype.names or ()]
        record = Schema.from_dtype(np.dtype([*descr, *PAYLOAD_FIELDS]))
        # Not Source.__init__: no view and no stream; this source's records
        # are built from the index below.
        self.name = name
        self.schema = record
        self.header = header
        self.offset = frames.offset
        self.count = None
        self.trailing = "error"
        self.view = None
        self._reader = None
        self._close = frames.close
        self.frames = frames
        self.what = what
        self.records = len(frames)
        self.file_nbytes = os.path.getsize(name)

    @property
    def trailing_nbytes(self) -> int:
        """Bytes after the last complete frame (a partial frame left out)."""
        return int((self.file_nbytes or 0) - self.frames.nbytes)

    @property
    def seekable(self) -> bool:
        """Frames can be read in any order (the index says where each is)."""
        return True

    @property
    def total_nbytes(self) -> int | None:
        """Bytes of the frames (for progress bars)."""
        return int(self.frames.nbytes - self.frames.offset)

    def _records(self, heads: NDArray, offs: NDArray, lens: NDArray) -> NDArray:
        out = np.empty(len(heads), self.schema.dtype)
        for name in self.header.dtype.names or ():
            out[name] = heads[name]
        out["payload_offset"] = offs
        out["payload_nbytes"] = lens
        out.flags.writeable = False
        return out

    def batches(self, *, start: int = 0, nbytes: int = BATCH_NBYTES) -> Iterator[NDArray]:
        """Records of frames ``start..``, about ``nbytes`` of file per batch."""
        for heads, offs, lens in self.frames.batches(nbytes=nbytes, start=start):
            yield self._records(heads, offs, lens)

    def _range(self, a: int, b: int) -> NDArray:
        parts = [
            self._records(h, o, n)
            for h, o, n in self.frames.batches(records=max(1, b - a), start=a)
        ][:1]
        if not parts:
            return np.empty(0, self.schema.dtype)
        return parts[0][: b - a]

    def take(self, rows: slice) -> tuple[NDArray, int, int]:
        """Records of the frames selected by ``rows``; (records, first index, step)."""
        start, stop, step = rows.indices(len(self.frames))
        if step < 0:
            idx = np.arange(start, stop, step)
            if not len(idx):
                return np.empty(0, self.schema.dtype), start, step
            lo, hi = int(idx.min()), int(idx.max()) + 1
            return self._range(lo, hi)[idx - lo], start, step
        return self._range(start, max(start, stop))[::step], start, step

    def tail(self, n: int) -> tuple[NDArray, int]:
        """The last ``n`` frames' records and the index of the first of them."""
        total = len(self.frames)
        first = max(0, total - n)
        return self._range(first, total), first

    def verify(self) -> None:
        """Fail if the file shrank (or lost pages) since it was indexed."""
        self.frames.refresh()


def frames_source(args: argparse.Namespace, *, trailing: str | None = None) -> FramesSource:
    """Index FILE as frames, as ``--frames`` / ``--frames-length`` say."""
    name = str(args.file)
    if name == "-" or is_url(name):
        raise UsageError(f"{name}: framed records need a local file (frames are mapped)")
    if args.frames and args.frames_length:
        raise UsageError("give --frames or --frames-length, not both")
    if args.offset and args.frames:
        raise UsageError(f"--frames {args.frames} gives its own header size; drop --offset")
    if args.count is not None:
        raise UsageError("--count is for fixed-size records, not frames")
    kwargs: dict[str, Any]
    if args.frames == "pcap":
        kwargs = formats.pcap(name)
        what = "pcap packets"
    elif args.frames == "fortran":
        kwargs = formats.fortran(args.marker)
        what = f"Fortran records ({args.marker} markers)"
    else:
        spec = args.frames_header or args.schema
        if not spec:
            raise UsageError("--frames-length needs the header's layout: --frames-header SPEC")
        byteorder = {"little": "<", "big": ">", "native": "="}[args.byteorder]
        header, _where = load_schema(spec, byteorder=byteorder, packed=args.packed)
        kwargs = {
            "header": header,
            "length": args.frames_length,
            "offset": args.offset,
            "adjust": args.adjust,
            "trailer": args.trailer,
        }
        what = f"frames (length field {args.frames_length!r})"
    if args.index is not None:
        _check_index_path(name, args.index)
    frames = open_frames(
        name,
        **kwargs,
        index=args.index,
        trailing=trailing or args.trailing or "error",  # type: ignore[arg-type]
    )
    src = FramesSource(name, frames, what=what)
    args._schema = (src.schema, f"{what}: header {src.header.itemsize:,} bytes + payload place")
    return src


#: The first bytes of a recview frame index (recview.frames writes them).
_INDEX_MAGIC = b"RVFIDX01"


def _check_index_path(name: str, index: str) -> None:
    """A usage error when ``--index`` names a file the index must not replace.

    The index is written beside its path and renamed over it: a path naming
    the input, a device or FIFO (``--index /dev/null``), or a file that is
    no frame index would be replaced (or, a FIFO, waited on when read).
    A new path, an empty file and an index recview wrote are fine.
    """
    try:
        st = os.stat(index)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"--index {index}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(
            f"--index {index}: not a regular file (a device, FIFO, socket or folder): "
            "the index would replace it; give the path of an index file"
        )
    with contextlib.suppress(OSError):
        src = os.stat(name)
        if (src.st_dev, src.st_ino) == (st.st_dev, st.st_ino):
            raise UsageError(
                f"--index {index} is the input file {name}: writing the index would "
                "destroy it (choose another path)"
            )
    if st.st_size:
        with open(index, "rb") as f:
            head = f.read(len(_INDEX_MAGIC))
        if head != _INDEX_MAGIC:
            raise UsageError(
                f"--index {index}: not a recview frame index (it does not start with "
                f"{_INDEX_MAGIC!r}): the index would replace it; give another path"
            )


def write_frames_parquet(src: FramesSource, fh: Any, names: list[str], *, nbytes: int) -> int:
    """Header columns ``names`` (leaves of the header) and ``payload``, to Parquet on ``fh``.

    Returns the number of frames written.
    """
    pq = require("pyarrow.parquet", extra="arrow", purpose="recview convert to Parquet")
    keep = [n for n in names if n not in dict(PAYLOAD_FIELDS)] + ["payload"]
    writer: Any = None
    rows = 0
    try:
        for batch in src.frames.to_arrow_batches(nbytes=nbytes):
            table = batch.select(keep)
            if writer is None:
                writer = pq.ParquetWriter(fh, table.schema)
            writer.write_batch(table)
            rows += table.num_rows
        if writer is None:  # no frames: still a valid file, with the columns
            pa = require("pyarrow", extra="arrow", purpose="recview convert to Parquet")
            heads = to_arrow(np.empty(0, src.header.dtype), schema=src.header)
            table = heads.append_column("payload", pa.array([], type=pa.large_binary()))
            writer = pq.ParquetWriter(fh, table.select(keep).schema)
            writer.write_table(table.select(keep))
    finally:
        if writer is not None:
            writer.close()
    return rows
