"""The ``recview`` command line: look into binary record files before writing any code.

This module owns the argparse front door (``recview`` console script and
``python -m recview``): schema specs given on the command line, opening files
or standard input, printing records as tables, CSV or JSON, the annotated hex
dump, conversions, statistics, layout guessing and plots. The work on the
records themselves is done by :mod:`recview.view` (files, memory-mapped),
:mod:`recview.pool` (standard input and compressed files), :mod:`recview.interop`
(Parquet), :mod:`recview._guess` and :mod:`recview._progress`.

Subcommands::

    recview info    FILE -s SPEC            sizes, record count, the schema as a table
    recview head    FILE -s SPEC [-n N]     the first records (--format table|csv|jsonl|json)
    recview tail    FILE -s SPEC [-n N]     the last records
    recview slice   FILE -s SPEC --rows A:B records A..B (Python slice syntax)
    recview inspect FILE -s SPEC --record N annotated hex dump of a record and its neighbours
    recview convert FILE -s SPEC -o OUT     to .csv, .jsonl, .npy or .parquet, in batches
    recview stats   FILE -s SPEC            per-field count/min/max/mean, then run figures
    recview guess   FILE                    infer record size, header and a starting schema
    recview plot    FILE -s SPEC --field F -o out.png   histogram or series of a field

``FILE`` may be ``-`` (standard input) or a ``.gz``/``.bz2``/``.xz``/``.zst``
file, read as a stream. Exit status: 0 on success, 1 on a data error (a
:class:`~recview.errors.RecviewError` or an ``OSError``: bad schema, file too
short, missing file), 2 on a usage error. Errors are one line on standard
error; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import importlib
import importlib.util
import io
import json
import math
import os
import re
import signal
import stat
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NoReturn, TextIO

import numpy as np

from recview import _progress
from recview.errors import LayoutError, RecviewError, SchemaError, TruncatedError
from recview.schema import FieldInfo, Schema, _leaves as _schema_leaves, as_schema

__all__ = [
    "EXIT_DATA",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "cli_hints",
    "load_schema",
    "main",
]

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
#: Interrupted (Ctrl-C), as shells report a process killed by SIGINT.
EXIT_INTERRUPTED = 130

NDArray = np.ndarray[Any, np.dtype[Any]]

#: Bytes of records per batch for the scanning commands (convert, stats, plot).
BATCH_NBYTES = 4 << 20
#: Suffixes read as compressed streams.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".lzma", ".zst", ".zstd")
#: Widest table cell before it is cut with "...".
MAX_CELL = 40
#: Bytes of hex shown per line in ``inspect``.
HEX_PER_LINE = 8


class UsageError(Exception):
    """A command-line argument that cannot work (exit status 2)."""


# ---------------------------------------------------------------------------
# schema specs
# ---------------------------------------------------------------------------

_MISSING = object()
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_C_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".c", ".cc", ".cpp")


def _from_c(path: str, name: str | None, byteorder: str, packed: bool) -> Schema:
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    try:
        return Schema.from_c(text, name, byteorder=byteorder, packed=packed)
    except SchemaError as err:
        # The library's hints name its keyword (name=...): say the option.
        message = str(err).replace("pass name= to pick one", f"pick one with --schema {path}:NAME")
        message = re.sub(r"pass name='([^']*)'", rf"use --schema '{path}:\1'", message)
        message = re.sub(r" or name='([^']*)'", rf" or '{path}:\1'", message)
        raise SchemaError(f"{path}: {message}", path=path, field=err.field) from err


def _run_schema_module(what: str, module: str, run: Callable[[], Any]) -> Any:
    """Import a ``--schema`` module: whatever it raises is a data error."""
    try:
        return run()
    except SyntaxError as err:
        where = f"{err.filename}, line {err.lineno}" if err.lineno else str(err.filename)
        raise SchemaError(f"--schema {what}: {where}: invalid Python: {err.msg}") from err
    except ImportError as err:
        raise SchemaError(f"--schema {what}: cannot import module {module!r}: {err}") from err
    except Exception as err:  # any failure of the user's code, reported in one line
        raise SchemaError(
            f"--schema {what}: importing the module raised {type(err).__name__}: {err}"
        ) from err


def _python_object(module_part: str, attr: str) -> Any:
    """``module:attr`` (dotted both sides), or ``path/file.py:attr``."""
    if module_part.endswith(".py"):
        if not os.path.isfile(module_part):
            raise FileNotFoundError(2, "No such file or directory", module_part)
        name = "_recview_schema_" + re.sub(r"\W", "_", os.path.abspath(module_part))
        spec = importlib.util.spec_from_file_location(name, module_part)
        if spec is None or spec.loader is None:  # pragma: no cover - .py always has a loader
            raise SchemaError(f"cannot import {module_part!r} as a Python file")
        module = importlib.util.module_from_spec(spec)
        loader = spec.loader
        _run_schema_module(f"{module_part}:{attr}", module_part, lambda: loader.exec_module(module))
    else:
        # Like ``python -m``, look in the current directory first (a console
        # script's sys.path starts with its own bin directory instead).
        cwd = os.getcwd()
        added = cwd not in sys.path
        if added:
            sys.path.insert(0, cwd)
        try:
            module = _run_schema_module(
                f"{module_part}:{attr}", module_part, lambda: importlib.import_module(module_part)
            )
        finally:
            if added:
                with contextlib.suppress(ValueError):
                    sys.path.remove(cwd)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            raise SchemaError(
                f"--schema {module_part}:{attr}: module {module_part!r} has no {attr!r}"
            )
    return obj


def _inline_schema(text: str) -> tuple[Schema, str]:
    """Schema JSON or a numpy dtype literal given on the command line."""
    if text.startswith("{"):
        try:
            return Schema.from_json(text), "inline JSON"
        except SchemaError as json_err:
            try:
                literal = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise json_err from None
            return Schema.from_dtype(literal), "numpy dtype"
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as err:
        raise SchemaError(f"not a valid dtype literal: {err}") from err
    return Schema.from_dtype(literal), "numpy dtype"


def load_schema(spec: str, *, byteorder: str = "<", packed: bool = False) -> tuple[Schema, str]:
    """Build a schema from a command-line ``--schema`` spec.

    Parameters
    ----------
    spec : str
        One of: a JSON schema file (``Schema.to_json`` form); a C header,
        ``file.h`` (its only struct) or ``file.h:struct_name``; a Python
        object, ``package.module:Name`` or ``path/file.py:Name`` (a
        ``Record`` subclass, a ``Schema``, a numpy dtype or a
        ``construct.Struct``); inline schema JSON; or a numpy dtype string
        (``"u8,f8"``, ``"[('ts', '<u8'), ('p', '<f8')]"``; literals are read
        with :func:`ast.literal_eval`, never evaluated).
    byteorder : {"<", ">", "="}
        Byte order for C headers.
    packed : bool
        Lay out C structs without alignment padding.

    Returns
    -------
    (Schema, str)
        The schema and a short description of where it came from.

    Raises
    ------
    SchemaError
        The spec names something that is not a valid schema.
    FileNotFoundError
        The spec names a file that does not exist.

    Examples
    --------
    >>> schema, where = load_schema("[('ts', '<u8'), ('price', '<f8')]")
    >>> schema.itemsize, schema.names, where
    (16, ('ts', 'price'), 'numpy dtype')
    >>> load_schema("u4,f8")[0].names
    ('f0', 'f1')
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "s.json")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write(schema.to_json())
    >>> load_schema(path)[0] == schema, load_schema(path)[1].endswith("(JSON file)")
    (True, True)
    """
    text = spec.strip()
    if not text:
        raise SchemaError("--schema is empty")
    if text.startswith(("{", "[", "(")):
        try:
            return _inline_schema(text)
        except SchemaError as err:  # name the spec: it is the "file" here
            raise SchemaError(f"--schema {_cut(text)!r}: {err}", field=err.field) from err
    if ":" in text:
        left, _, right = text.rpartition(":")
        if left.endswith(".py") or (
            not left.lower().endswith((".json", *_C_SUFFIXES))
            and re.fullmatch(_DOTTED, left)
            and re.fullmatch(_DOTTED, right)
            and not os.path.exists(left)
        ):
            obj = _python_object(left, right)
            try:
                return as_schema(obj), f"{text} (Python object)"
            except SchemaError as err:
                raise SchemaError(f"--schema {text}: {err}", field=err.field) from err
        if os.path.isfile(left) or left.lower().endswith(_C_SUFFIXES):
            return _from_c(left, right or None, byteorder, packed), f"{text} (C header)"
    if os.path.isfile(text):
        if text.lower().endswith(_C_SUFFIXES):
            return _from_c(text, None, byteorder, packed), f"{text} (C header)"
        if text.endswith(".py"):
            raise SchemaError(f"--schema {text}: name the object too, as {text}:Name")
        with open(text, encoding="utf-8", errors="replace") as fh:
            content = fh.read()
        try:
            return Schema.from_json(content), f"{text} (JSON file)"
        except SchemaError as err:
            raise SchemaError(f"{text}: {err}", path=text, field=err.field) from err
    if os.path.isdir(text):
        raise IsADirectoryError(21, "Is a directory", text)
    if text.lower().endswith((".json", ".py", *_C_SUFFIXES)) or os.sep in text:
        raise FileNotFoundError(2, "No such file or directory", text)
    try:
        return Schema.from_dtype(text), "numpy dtype"
    except SchemaError as err:
        raise SchemaError(
            f"--schema {spec!r} is not a schema file, a C header, a module:object or a "
            f"numpy dtype ({err})"
        ) from err


# ---------------------------------------------------------------------------
# sources: a mapped file, or a stream (stdin, compressed files)
# ---------------------------------------------------------------------------


class _CountingReader:
    """A binary reader that counts the bytes it hands out (for stream sizes)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.nbytes = 0
        self.name = getattr(raw, "name", "<stream>")

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self.raw, "readinto", None)
        if readinto is not None:
            n = int(readinto(buffer) or 0)
        else:  # pragma: no cover - every stream recview opens has readinto
            data = self.raw.read(len(buffer))
            n = len(data)
            memoryview(buffer)[:n] = data
        self.nbytes += n
        return n

    def readinto1(self, buffer: Any) -> int:
        # Forwarded so that rv.stream hands records on as they arrive on stdin
        # (one short read) instead of waiting for a full buffer.
        readinto1 = getattr(self.raw, "readinto1", None)
        if readinto1 is None:
            return self.readinto(buffer)
        n = int(readinto1(buffer) or 0)
        self.nbytes += n
        return n

    def fileno(self) -> int:
        # Forwarded so that rv.stream can widen a pipe on standard input.
        return int(self.raw.fileno())


class _Source:
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
    ) -> None:
        self.name = name
        self.schema = schema
        self.offset = offset
        self.count = count
        self.trailing = trailing
        self.view: Any = None
        self._reader: _CountingReader | None = None
        self._close: Callable[[], object] | None = None
        self.records: int | None = None
        self.file_nbytes: int | None = None
        if name == "-" or name.lower().endswith(COMPRESSED_SUFFIXES) or _is_stream(name):
            if name == "-":
                raw: IO[bytes] = sys.stdin.buffer
                self.name = "<stdin>"
            elif name.lower().endswith(COMPRESSED_SUFFIXES):
                from recview.pool import open_compressed

                raw = open_compressed(name)
                self._close = raw.close
            else:  # a FIFO, <(zcat x.gz), /dev/fd/N, a socket, a device
                raw = open(name, "rb")  # noqa: SIM115 - closed by close()
                self._close = raw.close
            self._reader = _CountingReader(raw)
        else:
            from recview.view import open as open_view

            self.view = open_view(
                name,
                schema,
                offset=offset,
                count=count,
                trailing=trailing,  # type: ignore[arg-type]
                mode=mode,  # type: ignore[arg-type]
            )
            self._close = self.view.close
            self.records = len(self.view)
            self.file_nbytes = os.path.getsize(name)

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
        from recview.pool import stream

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


def _is_stream(path: str) -> bool:
    """Whether ``path`` names something to read once, in order: anything that
    exists and is neither a regular file nor a folder (a FIFO, a character
    device, a socket, ``/dev/fd/N`` of a pipe). A path that cannot be stat'ed
    (missing, a URL) is left to :func:`recview.open`, which says why."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _concat(parts: Sequence[NDArray], schema: Schema) -> NDArray:
    if not parts:
        return np.empty(0, dtype=schema.dtype)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _open_source(args: argparse.Namespace, *, trailing: str | None = None) -> _Source:
    schema, _where = _schema_of(args)
    return _Source(
        args.file,
        schema,
        offset=args.offset,
        count=args.count,
        trailing=trailing or args.trailing or "error",
        mode=args.mode,
    )


def _schema_of(args: argparse.Namespace) -> tuple[Schema, str]:
    cached: tuple[Schema, str] | None = getattr(args, "_schema", None)
    if cached is None:
        if not args.schema:
            raise UsageError("this command needs --schema/-s (try 'recview guess FILE' first)")
        byteorder = {"little": "<", "big": ">", "native": "="}[args.byteorder]
        cached = load_schema(args.schema, byteorder=byteorder, packed=args.packed)
        args._schema = cached
    return cached


# ---------------------------------------------------------------------------
# values: fields to Python objects and text
# ---------------------------------------------------------------------------


def show_bytes(raw: bytes) -> str:
    """How the CLI shows a bytes field: printable ASCII as text, else hex.

    Trailing NUL bytes are stripped first (``char[N]`` padding).

    Examples
    --------
    >>> show_bytes(b"XNAS\\x00\\x00\\x00\\x00"), show_bytes(b"\\x01\\xff"), show_bytes(b"")
    ('XNAS', '0x01ff', '')
    """
    text = raw.rstrip(b"\0")
    if all(32 <= c < 127 for c in text):
        return text.decode("ascii")
    return "0x" + raw.hex()


def _leaf(arr: NDArray, path: str) -> NDArray:
    for part in path.split("."):
        arr = arr[part]
    return arr


def _scalars(flat: NDArray, enum: Mapping[int, str] | None, *, json_mode: bool) -> list[Any]:
    """Python values of a 1-d array of one scalar type."""
    kind = flat.dtype.kind
    if flat.dtype.names is not None:  # records (an array of structs, in inspect)
        return [str(v) for v in flat.tolist()]
    if kind in "SV":
        memo: dict[bytes, str] = {}  # text fields usually repeat a few values
        out: list[str] = []
        for b in flat.tolist():
            text = memo.get(b)
            if text is None:
                text = memo[b] = show_bytes(b)
            out.append(text)
        return out
    if kind in "iu":
        values = flat.tolist()
        if enum:
            return [enum.get(v, v) for v in values]
        return values  # type: ignore[no-any-return]
    if kind == "f":
        if flat.dtype.itemsize < 8:
            # shortest text that reads back as the same float32/float16
            values = [float(s) for s in flat.astype(str).tolist()]
        else:
            values = flat.astype(np.float64).tolist()
        if json_mode:
            return [v if math.isfinite(v) else None for v in values]
        return list(values)
    if kind == "c":
        pairs = [(float(z.real), float(z.imag)) for z in flat.tolist()]
        return [list(p) for p in pairs] if json_mode else [str(complex(*p)) for p in pairs]
    if kind in "Mm":
        return flat.astype(str).tolist()  # type: ignore[no-any-return]
    return flat.tolist()  # type: ignore[no-any-return]


def _nest(flat: list[Any], shape: tuple[int, ...]) -> list[Any]:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


@dataclass(frozen=True)
class _Column:
    """One leaf field to print."""

    info: FieldInfo
    enum: Mapping[int, str] | None

    @property
    def name(self) -> str:
        """The dotted path."""
        return self.info.path

    @property
    def numeric(self) -> bool:
        """Whether the field is a number (or bool), with no enum names."""
        return self.info.dtype.kind in "iufb" and not self.enum

    def values(self, arr: NDArray, *, json_mode: bool = False) -> list[Any]:
        """One Python value per record (nested lists for array fields)."""
        a = _leaf(arr, self.info.path)
        n = len(a)
        flat = np.ascontiguousarray(a).reshape(-1)
        conv = _scalars(flat, self.enum, json_mode=json_mode)
        shape = self.info.shape
        if not shape:
            return conv
        size = int(np.prod(shape))
        return [_nest(conv[i * size : (i + 1) * size], shape) for i in range(n)]

    def flat_names(self) -> list[str]:
        """_Column names with array fields expanded: ``pos[0]``, ``grid[1][2]``."""
        if not self.info.shape:
            return [self.name]
        return [self.name + "".join(f"[{i}]" for i in idx) for idx in np.ndindex(*self.info.shape)]

    def flat_values(self, arr: NDArray) -> list[list[Any]]:
        """Per-element columns for :meth:`flat_names` (expanded array fields)."""
        if not self.info.shape:
            return [self.values(arr)]
        a = _leaf(arr, self.info.path)
        flat = np.ascontiguousarray(a).reshape(len(a), -1)
        return [
            _scalars(np.ascontiguousarray(flat[:, k]), self.enum, json_mode=False)
            for k in range(flat.shape[1])
        ]


def _leaf_fields(schema: Schema) -> list[FieldInfo]:
    """The schema's leaves, with arrays of records expanded into their members
    (``x.a`` of shape ``(2,)`` for ``x``, an array of two ``{a, b}`` records)."""

    def expand(leaves: list[FieldInfo]) -> list[FieldInfo]:
        out: list[FieldInfo] = []
        for f in leaves:
            if f.dtype.names is None:
                out.append(f)
            else:  # offsets are those of the first element
                out.extend(expand(list(_schema_leaves(f.dtype, f.path, f.offset, f.shape))))
        return out

    return expand(schema.fields())


def _columns(schema: Schema, fields: str | None) -> list[_Column]:
    leaves = _leaf_fields(schema)
    if fields:
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        chosen: list[FieldInfo] = []
        for w in wanted:
            match = [f for f in leaves if f.path == w or f.path.startswith(w + ".")]
            if not match:
                names = ", ".join(f.path for f in leaves)
                raise UsageError(f"--fields: no field {w!r} (fields: {names})")
            chosen.extend(m for m in match if m not in chosen)
        leaves = chosen
    return [_Column(f, schema.enums.get(f.path)) for f in leaves]


def text_of(value: Any) -> str:
    """Text of one value in a table or CSV cell.

    Examples
    --------
    >>> [text_of(v) for v in (1, 2.5, float("nan"), None, "ab", [1, 2], True)]
    ['1', '2.5', 'nan', '', 'ab', '[1, 2]', 'True']
    """
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ", ".join(text_of(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------------------
# writers: table, csv, jsonl, json
# ---------------------------------------------------------------------------


class _Style:
    """ANSI styles, all empty when colour is off."""

    def __init__(self, color: bool) -> None:
        self.bold = "\x1b[1m" if color else ""
        self.dim = "\x1b[2m" if color else ""
        self.cyan = "\x1b[36m" if color else ""
        self.yellow = "\x1b[33m" if color else ""
        self.reset = "\x1b[0m" if color else ""


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _json_texts(values: list[Any], column: _Column) -> list[str]:
    """JSON text of each value of a column (fast paths by field type)."""
    kind = column.info.dtype.kind
    if not column.info.shape and not column.enum:
        if kind in "iu":
            return list(map(str, values))
        if kind == "f":
            return ["null" if v is None else repr(v) for v in values]
        if kind == "b":
            return ["true" if v else "false" for v in values]
    memo: dict[Any, str] = {}  # text fields and enum names repeat
    out: list[str] = []
    for v in values:
        if isinstance(v, list):
            out.append(json.dumps(v, allow_nan=False))
            continue
        key = (type(v), v)
        text = memo.get(key)
        if text is None:
            text = memo[key] = json.dumps(v)
        out.append(text)
    return out


class _RowWriter:
    """Write batches of records to a text stream in one of the row formats."""

    def __init__(
        self,
        out: TextIO,
        columns: list[_Column],
        fmt: str,
        *,
        index: bool = True,
        style: _Style | None = None,
    ) -> None:
        self.out = out
        self.columns = columns
        self.fmt = fmt
        self.index = index and fmt == "table"
        self.style = style or _Style(False)
        self.rows = 0
        self._started = False
        self._widths: list[int] | None = None
        self._right: list[bool] = []
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None

    def write(self, arr: NDArray, first: int = 0, step: int = 1) -> None:
        """Write records ``arr`` whose first has index ``first`` (``step`` apart)."""
        if self.fmt == "csv":
            self._write_csv(arr)
        elif self.fmt in ("jsonl", "json"):
            self._write_json(arr)
        else:
            self._write_table(arr, first, step)
        self.rows += len(arr)

    def _csv_header(self) -> None:
        assert self._csv is not None
        if not self._started:
            self._started = True
            self._csv.writerow([n for c in self.columns for n in c.flat_names()])

    def _write_csv(self, arr: NDArray) -> None:
        assert self._csv is not None
        self._csv_header()
        # csv writes ints, floats (repr) and None ("") itself; only the rest needs text_of
        cols = [
            vals if c.info.dtype.kind in "iuf" else [text_of(v) for v in vals]
            for c in self.columns
            for vals in c.flat_values(arr)
        ]
        self._csv.writerows(zip(*cols, strict=True))

    def _write_json(self, arr: NDArray) -> None:
        # One %-template per record, filled with per-column JSON texts: many
        # times faster than json.dumps of a dict per record.
        template = (
            "{"
            + ", ".join(json.dumps(c.name).replace("%", "%%") + ": %s" for c in self.columns)
            + "}"
        )
        cols = [_json_texts(c.values(arr, json_mode=True), c) for c in self.columns]
        texts = [template % row for row in zip(*cols, strict=True)]
        if not texts:
            return
        if self.fmt == "jsonl":
            self.out.write("\n".join(texts) + "\n")
        else:
            self.out.write(("[\n  " if self.rows == 0 else ",\n  ") + ",\n  ".join(texts))

    def _write_table(self, arr: NDArray, first: int, step: int) -> None:
        cols = [[text_of(v) for v in c.values(arr)] for c in self.columns]
        cells = [[_cut(s) for s in col] for col in cols]
        if self.index:
            cells.insert(0, [str(first + i * step) for i in range(len(arr))])
        widths, right = self._table_header(cells)
        for row in zip(*cells, strict=True):
            line = "  ".join(
                s.rjust(w) if r else s.ljust(w) for s, w, r in zip(row, widths, right, strict=True)
            )
            self.out.write(line.rstrip() + "\n")

    def _table_header(self, cells: list[list[str]]) -> tuple[list[int], list[bool]]:
        """_Column widths (from the first cells) and alignment; writes the header once."""
        if self._widths is None:
            names = (["#"] if self.index else []) + [c.name for c in self.columns]
            self._widths = [
                max([len(n), *(len(s) for s in col)]) for n, col in zip(names, cells, strict=True)
            ]
            self._right = ([True] if self.index else []) + [
                c.info.dtype.kind in "iufc" and not c.enum for c in self.columns
            ]
            st = self.style
            head = "  ".join(
                n.rjust(w) if r else n.ljust(w)
                for n, w, r in zip(names, self._widths, self._right, strict=True)
            )
            self.out.write(f"{st.bold}{head.rstrip()}{st.reset}\n")
            self.out.write("  ".join("-" * w for w in self._widths) + "\n")
        return self._widths, self._right

    def close(self) -> None:
        """Finish the output: the header of an empty table or CSV, the end of JSON."""
        if self.fmt == "csv":
            self._csv_header()
        if self.fmt == "table":
            self._table_header([[] for _ in range(len(self.columns) + self.index)])
        if self.fmt == "json":
            self.out.write("[]\n" if self.rows == 0 else "\n]\n")
        self.out.flush()


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def _chunks(arr: NDArray, n: int = 65536) -> Iterator[tuple[NDArray, int]]:
    for a in range(0, len(arr), n):
        yield arr[a : a + n], a


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------


def _type_text(info: FieldInfo, schema: Schema) -> str:
    text = info.dtype.str
    enum = schema.enums.get(info.path)
    if enum:
        text += " enum(" + ", ".join(f"{v}={k}" for k, v in sorted(enum.items())) + ")"
    return text


def _union_of(path: str, schema: Schema) -> str | None:
    parts = path.split(".")
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in schema.unions:
            return prefix
    return None


def _layout_rows(schema: Schema) -> list[tuple[int, int, str, str, str]]:
    """(offset, nbytes, type, shape, name) per leaf, with padding gaps as rows."""
    rows: list[tuple[int, int, str, str, str]] = []
    end = 0
    for f in sorted(schema.fields(), key=lambda f: f.offset):
        if f.offset > end:
            rows.append((end, f.offset - end, "", "", "(padding)"))
        shape = "(" + ", ".join(map(str, f.shape)) + ("," if len(f.shape) == 1 else "") + ")"
        union = _union_of(f.path, schema)
        name = f.path + (f"  [union {union}]" if union else "")
        rows.append((f.offset, f.nbytes, _type_text(f, schema), shape if f.shape else "", name))
        end = max(end, f.offset + f.nbytes)
    if end < schema.itemsize:
        rows.append((end, schema.itemsize - end, "", "", "(padding)"))
    return rows


def _cmd_info(args: argparse.Namespace) -> int:
    """``recview info``: sizes, record count and the schema as a table."""
    src = _open_source(args, trailing=args.trailing or "ignore")
    schema, where = _schema_of(args)
    try:
        if not src.seekable:
            for _ in src.batches():
                pass
        records = src.records or 0
        file_nbytes = src.file_nbytes
        used = src.offset + records * schema.itemsize
        trailing = None if file_nbytes is None else file_nbytes - used
    finally:
        src.close()
    out = sys.stdout
    if args.format == "json":
        doc = {
            "file": src.name,
            "file_nbytes": file_nbytes,
            "schema_source": where,
            "header_nbytes": src.offset,
            "itemsize": schema.itemsize,
            "records": records,
            "trailing_nbytes": trailing,
            "fields": [
                {
                    "path": f.path,
                    "offset": f.offset,
                    "nbytes": f.nbytes,
                    "type": f.dtype.str,
                    "shape": list(f.shape),
                }
                for f in schema.fields()
            ],
            "schema": json.loads(schema.to_json()),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    st = _Style(_use_color(args.color, out))

    def n(x: int | None) -> str:
        return "n/a" if x is None else f"{x:,}"

    lines = [
        ("file", src.name),
        ("file size", f"{n(file_nbytes)} bytes"),
        ("schema", where),
        ("header", f"{src.offset:,} bytes"),
        ("record size", f"{schema.itemsize:,} bytes"),
        ("records", f"{records:,}"),
        (
            "trailing",
            f"{n(trailing)} bytes"
            + (" (not whole records: left out)" if trailing and args.count is None else ""),
        ),
    ]
    for key, value in lines:
        out.write(f"{st.bold}{key:<12}{st.reset} {value}\n")
    out.write("\n")
    rows = _layout_rows(schema)
    type_w = max(4, *(len(r[2]) for r in rows))
    shape_w = max(5, *(len(r[3]) for r in rows))
    head = f"{'offset':>6}  {'size':>5}  {'type':<{type_w}}  {'shape':<{shape_w}}  field"
    out.write(f"{st.bold}{head}{st.reset}\n")
    for off, size, typ, shape, name in rows:
        line = f"{off:>6}  {size:>5}  {typ:<{type_w}}  {shape:<{shape_w}}  {name}"
        out.write((f"{st.dim}{line}{st.reset}" if name == "(padding)" else line).rstrip() + "\n")
    return EXIT_OK


# ---------------------------------------------------------------------------
# head / tail / slice
# ---------------------------------------------------------------------------


def parse_rows(text: str) -> slice:
    """Parse ``--rows``: ``a:b``, ``a:``, ``:b``, ``a:b:c`` or a single index ``n``.

    Examples
    --------
    >>> parse_rows("10:20"), parse_rows("-5:"), parse_rows("3"), parse_rows("::2")
    (slice(10, 20, None), slice(-5, None, None), slice(3, 4, None), slice(None, None, 2))
    >>> parse_rows("-1")
    slice(-1, None, None)
    """
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise argparse.ArgumentTypeError(f"not a slice: {text!r} (use a:b or a:b:c)")
    try:
        nums = [int(p, 0) if p.strip() else None for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a slice: {text!r} (use a:b or a:b:c)") from None
    if len(nums) == 1:
        i = nums[0]
        if i is None:
            raise argparse.ArgumentTypeError("empty --rows")
        return slice(i, i + 1 if i != -1 else None)
    if len(nums) == 3 and nums[2] == 0:
        raise argparse.ArgumentTypeError("slice step cannot be zero")
    return slice(*nums)


def _print_records(
    args: argparse.Namespace, src: _Source, arr: NDArray, first: int, step: int = 1
) -> None:
    out = sys.stdout
    columns = _columns(src.schema, args.fields)
    writer = _RowWriter(
        out, columns, args.format, index=True, style=_Style(_use_color(args.color, out))
    )
    for chunk, a in _chunks(arr):
        writer.write(chunk, first + a * step, step)
    writer.close()


def _cmd_head(args: argparse.Namespace) -> int:
    """``recview head``: the first ``-n`` records."""
    src = _open_source(args)
    try:
        arr, first, step = src.take(slice(0, args.n))
        _print_records(args, src, arr, first, step)
        src.verify()
    finally:
        src.close()
    return EXIT_OK


def _cmd_tail(args: argparse.Namespace) -> int:
    """``recview tail``: the last ``-n`` records."""
    src = _open_source(args)
    try:
        arr, first = src.tail(args.n)
        _print_records(args, src, arr, first)
        src.verify()
    finally:
        src.close()
    return EXIT_OK


def _cmd_slice(args: argparse.Namespace) -> int:
    """``recview slice --rows a:b``: records ``a..b`` (Python slice semantics)."""
    src = _open_source(args)
    try:
        arr, first, step = src.take(args.rows)
        _print_records(args, src, arr, first, step)
        src.verify()
    finally:
        src.close()
    return EXIT_OK


# ---------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------


def _hex(raw: bytes) -> str:
    return " ".join(f"{b:02x}" for b in raw)


def _ascii(raw: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in raw)


def _inspect_record(
    out: TextIO,
    schema: Schema,
    rec: NDArray,
    raw: bytes,
    index: int,
    file_offset: int,
    *,
    target: bool,
    st: _Style,
) -> None:
    mark = f"{st.yellow}>{st.reset}" if target else " "
    out.write(
        f"{mark} {st.bold}record {index:,}{st.reset}  at byte offset {file_offset:,}"
        f" (0x{file_offset:x})\n"
    )
    fields = sorted(schema.fields(), key=lambda f: (f.offset, f.path))
    name_w = max([9, *(len(f.path) for f in fields)])
    type_w = max([4, *(len(f.dtype.str) + (len(str(f.shape)) if f.shape else 0) for f in fields)])
    hex_w = 3 * HEX_PER_LINE - 1

    def emit(start: int, chunk: bytes, label: str, typ: str, value: str, style: str) -> None:
        for k in range(0, max(len(chunk), 1), HEX_PER_LINE):
            piece = chunk[k : k + HEX_PER_LINE]
            head = f"    +{start + k:<5} {_hex(piece):<{hex_w}}  |{_ascii(piece):<{HEX_PER_LINE}}|"
            if k == 0:
                text = f"{head}  {style}{label:<{name_w}}{st.reset}  {typ:<{type_w}}  {value}"
            else:
                text = head
            out.write(text.rstrip() + "\n")

    end = 0
    for f in fields:
        if f.offset > end:
            gap = raw[end : f.offset]
            note = "" if not any(gap) else "not zero: a field missing from the schema?"
            emit(end, gap, "(padding)", "", note, st.dim)
        shown = text_of(_Column(f, schema.enums.get(f.path)).values(rec)[0])
        typ = f.dtype.str + (str(list(f.shape)) if f.shape else "")
        emit(f.offset, raw[f.offset : f.offset + f.nbytes], f.path, typ, shown, st.cyan)
        end = max(end, f.offset + f.nbytes)
    if end < schema.itemsize:
        gap = raw[end:]
        note = "" if not any(gap) else "not zero: a field missing from the schema?"
        emit(end, gap, "(padding)", "", note, st.dim)


def _cmd_inspect(args: argparse.Namespace) -> int:
    """``recview inspect --record N``: annotated hex dump of a record and neighbours."""
    # A schema that is off leaves stray bytes at the end: show the records anyway.
    src = _open_source(args, trailing=args.trailing or "ignore")
    schema = src.schema
    try:
        if src.seekable:
            total = src.records or 0
            n = args.record + total if args.record < 0 else args.record
            if not 0 <= n < total:
                raise UsageError(
                    f"--record {args.record} is out of range: {src.name} has {total:,} records"
                )
            lo, hi = max(0, n - args.context), min(total, n + args.context + 1)
            arr, _, _ = src.take(slice(lo, hi))
            # A byte copy (padding included), checked below: the dump reads it after close().
            arr = np.frombuffer(np.ascontiguousarray(arr).tobytes(), dtype=arr.dtype)
            src.verify()
        else:
            if args.record < 0:
                raise UsageError(f"{src.name}: a negative --record needs a file, not a stream")
            n = args.record
            lo = max(0, n - args.context)
            arr, _, _ = src.take(slice(lo, n + args.context + 1))
            total = -1
            if len(arr) <= n - lo:
                raise UsageError(
                    f"--record {n} is out of range: {src.name} has fewer records "
                    f"({lo + len(arr):,})"
                )
    finally:
        src.close()
    out = sys.stdout
    st = _Style(_use_color(args.color, out))
    raw = np.ascontiguousarray(arr).tobytes()
    isz = schema.itemsize
    count = f"of {total:,} " if total >= 0 else ""
    stray = ""
    if src.file_nbytes is not None and args.count is None:
        left = src.file_nbytes - src.offset - total * isz
        stray = f", {left:,} stray bytes at the end" if left else ""
    out.write(
        f"{src.name}: record {n:,} {count}(record size {isz:,} bytes,"
        f" header {src.offset:,} bytes{stray})\n"
    )
    for k in range(len(arr)):
        i = lo + k
        out.write("\n")
        _inspect_record(
            out,
            schema,
            arr[k : k + 1],
            raw[k * isz : (k + 1) * isz],
            i,
            src.offset + i * isz,
            target=i == n,
            st=st,
        )
    return EXIT_OK


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------


def _npy_header(dtype: np.dtype[Any], count: int, nbytes: int | None = None) -> bytes:
    """A ``.npy`` header for ``count`` records, padded to ``nbytes`` when given.

    Padding with spaces before the newline is allowed by the format, which is
    how the header is rewritten in place once a stream's count is known.
    """
    from numpy.lib import format as npy_format

    text = repr(
        {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False, "shape": (count,)}
    )
    body = text.encode("latin1")
    for version, size_fmt in ((1, "<u2"), (2, "<u4")):
        prefix = 8 + np.dtype(size_fmt).itemsize
        total = nbytes or -(-(prefix + len(body) + 1 + 24) // 64) * 64
        hlen = total - prefix
        if hlen < len(body) + 1 or (version == 1 and hlen >= 1 << 16):
            continue
        padded = body + b" " * (hlen - len(body) - 1) + b"\n"
        return (
            b"\x93NUMPY" + bytes([version, 0]) + np.array([hlen], dtype=size_fmt).tobytes() + padded
        )
    raise ValueError("the .npy header does not fit")  # pragma: no cover


class _NpyWriter:
    """Write records to ``.npy`` incrementally: header, then raw batches."""

    def __init__(self, fh: IO[bytes], columns: list[_Column], schema: Schema, count: int | None):
        self.fh = fh
        self.count = 0
        self.expected = count
        from numpy.lib import format as npy_format

        whole = len(columns) == len(_leaf_fields(schema))
        try:
            npy_format.dtype_to_descr(schema.dtype)
        except ValueError:
            whole = False  # unions: numpy cannot describe overlapping fields
        self.columns = None if whole else columns
        if whole:
            self.dtype: np.dtype[Any] = schema.dtype
        else:
            self.dtype = np.dtype(
                [
                    (c.name, c.info.dtype, c.info.shape) if c.info.shape else (c.name, c.info.dtype)
                    for c in columns
                ]
            )
        if count is None and not fh.seekable():
            raise UsageError("writing .npy from a stream needs a seekable output (not a pipe)")
        self.header = _npy_header(self.dtype, count or 0)
        fh.write(self.header)

    def write(self, arr: NDArray) -> None:
        if self.columns is not None:
            out = np.empty(len(arr), dtype=self.dtype)
            for c in self.columns:
                out[c.name] = _leaf(arr, c.info.path)
            arr = out
        data = np.ascontiguousarray(arr)
        self.fh.write(data.view(np.uint8).reshape(-1).data)
        self.count += len(arr)

    def close(self) -> None:
        if self.expected is None:
            self.fh.seek(0)
            self.fh.write(_npy_header(self.dtype, self.count, len(self.header)))
        self.fh.flush()


class _ParquetWriter:
    """Write record batches as Parquet row groups through :mod:`recview.interop`."""

    def __init__(
        self,
        fh: IO[bytes],
        columns: list[_Column],
        schema: Schema,
        *,
        strings: str = "bytes",
        source: str = "<records>",
        offset: int = 0,
    ) -> None:
        from recview._extras import require

        require("pyarrow", extra="arrow", purpose="recview convert to Parquet")
        self.pq = require("pyarrow.parquet", extra="arrow", purpose="recview convert to Parquet")
        self.fh = fh
        self.schema = schema
        self.names = [c.name for c in columns]
        self.all = len(columns) == len(_leaf_fields(schema))
        # Lossless by default: char[n] fields as their exact bytes; "text"
        # decodes them as UTF-8 (strict: bytes that are not text are an error).
        self.strings = "text" if strings == "text" else "bytes"
        self.source = source
        self.offset = offset
        self.columns = columns
        self.rows = 0
        self.writer: Any = None

    def _table(self, arr: NDArray) -> Any:
        from recview.interop import to_arrow

        return to_arrow(
            arr,
            schema=self.schema,
            columns=None if self.all else self.names,
            strings=self.strings,  # type: ignore[arg-type]
        )

    def write(self, arr: NDArray) -> None:
        from recview.interop import NotTextError

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
    try:
        return os.fstat(stream.fileno()) if name == "-" else os.stat(name)
    except (OSError, ValueError, AttributeError):
        return None


def _refuse_own_input(args: argparse.Namespace) -> None:
    """A usage error when the output is the input file, by any name.

    Symlinks (of the file or of a folder on the way) and hard links are the
    same file: writing the output would destroy the records being read.
    """
    src = _stat(args.file, sys.stdin)
    if src is None or not stat.S_ISREG(src.st_mode):
        return
    out = _stat(args.output, sys.stdout)
    if out is not None and _same_file(src, out):
        where = "standard output" if args.output == "-" else repr(args.output)
        name = "standard input" if args.file == "-" else repr(args.file)
        raise UsageError(
            f"the output {where} is the input file {name}: converting would destroy it "
            "(choose another -o)"
        )


class _Output:
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
        special = ("/dev/", "/proc/")  # /dev/stdout, /dev/fd/N: a descriptor, not a file
        if (
            (st is not None and not stat.S_ISREG(st.st_mode))
            or os.path.abspath(path).startswith(special)
            or real.startswith(special)
        ):
            # Appending: whoever opened it (the shell's > or >>) chose whether
            # it starts empty; a device or a pipe has nothing to truncate.
            raw: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115
        else:
            try:
                fd, self._tmp = tempfile.mkstemp(
                    dir=os.path.dirname(real), prefix=f".{os.path.basename(real)}.", suffix=".tmp"
                )
            except OSError as err:  # say the output, not the temporary name
                raise OSError(err.errno, err.strerror, path) from err
            self._real = real
            try:
                os.fchmod(fd, stat.S_IMODE(st.st_mode) if st else 0o666 & ~_umask())
                if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(OSError):
                        os.fchown(fd, st.st_uid, st.st_gid)
            except BaseException:
                os.close(fd)
                os.unlink(self._tmp)
                raise
            raw = os.fdopen(fd, "wb", buffering=0)
        buffered = io.BufferedWriter(raw)
        self.fh: Any = (
            buffered if binary else io.TextIOWrapper(buffered, encoding="utf-8", newline="")
        )

    def commit(self) -> None:
        """Finish: flush, close and move the output into place."""
        self.fh.close()
        if self._tmp is not None:
            os.replace(self._tmp, self._real)
            self._tmp = None

    def abort(self) -> None:
        """Give up: close, and remove the temporary file (nothing else)."""
        with contextlib.suppress(OSError, ValueError):
            self.fh.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None


def _convert_format(args: argparse.Namespace) -> str:
    if args.to:
        return str(args.to)
    suffix: str = os.path.splitext(args.output)[1].lower().lstrip(".")
    aliases = {"ndjson": "jsonl", "pq": "parquet"}
    fmt = aliases.get(suffix, suffix)
    if fmt not in CONVERT_FORMATS:
        raise UsageError(
            f"cannot tell the format of {args.output!r} from its suffix: "
            f"use .csv, .jsonl, .npy or .parquet, or --to"
        )
    return fmt


def _progress_for(args: argparse.Namespace, total: int | None, desc: str) -> _progress.Progress:
    enabled = True if args.progress else (False if args.quiet else None)
    return _progress.make_progress(total, desc=desc, enabled=enabled)


def _cmd_convert(args: argparse.Namespace) -> int:
    """``recview convert -o OUT``: records to CSV, JSON lines, .npy or Parquet."""
    fmt = _convert_format(args)
    src = _open_source(args)
    writer: Any = None
    output: _Output | None = None
    try:
        columns = _columns(src.schema, args.fields)
        _refuse_own_input(args)
        to_stdout = args.output == "-"
        binary = fmt in ("npy", "parquet")
        if to_stdout:
            fh: Any = sys.stdout.buffer if binary else sys.stdout
        else:
            output = _Output(args.output, binary=binary)
            fh = output.fh
        if fmt == "npy":
            writer = _NpyWriter(fh, columns, src.schema, src.records)
        elif fmt == "parquet":
            writer = _ParquetWriter(
                fh, columns, src.schema, strings=args.strings, source=src.name, offset=src.offset
            )
        else:
            writer = _RowWriter(fh, columns, fmt, index=False)
        bar = _progress_for(args, src.total_nbytes, "convert")
        try:
            for batch in src.batches(nbytes=args.batch_nbytes):
                writer.write(batch)
                bar.update(len(batch) * src.schema.itemsize)
        finally:
            bar.close()
        writer.close()
        writer = None
        if output is not None:
            output.commit()
            output = None
        records = src.records
    finally:
        src.close()
        if writer is not None and hasattr(writer, "abort"):
            writer.abort()
        if output is not None:
            output.abort()
    if not args.quiet and not to_stdout:
        print(f"recview: wrote {records:,} records to {args.output} ({fmt})", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------------
# stats
# ---------------------------------------------------------------------------


class _FieldStats:
    """Running count/min/max/sum of one numeric leaf over batches."""

    def __init__(self, column: _Column) -> None:
        self.column = column
        self.count = 0
        self.nan = 0
        self.min: Any = None
        self.max: Any = None
        self.total = 0.0
        self._sums: list[float] = []

    def add(self, arr: NDArray) -> None:
        a = _leaf(arr, self.column.info.path).reshape(-1)
        if not len(a):
            return
        if a.dtype.kind == "f":
            nan = np.isnan(a)
            k = int(np.count_nonzero(nan))
            if k:
                self.nan += k
                a = a[~nan]
                if not len(a):
                    return
        elif a.dtype.kind == "b":
            a = a.astype(np.uint8)
        lo, hi = a.min().item(), a.max().item()
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        self.count += len(a)
        self._sums.append(float(np.add.reduce(a, dtype=np.float64)))

    @property
    def mean(self) -> float | None:
        """Mean of the non-NaN values (``None`` when there are none)."""
        return math.fsum(self._sums) / self.count if self.count else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        mean = self.mean

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "type": self.column.info.dtype.str,
            "count": self.count,
            "nan": self.nan,
            "min": clean(self.min),
            "max": clean(self.max),
            "mean": clean(mean),
        }


def _scan(
    args: argparse.Namespace, src: _Source, desc: str, consume: Callable[[NDArray], None]
) -> _progress.RunFigures:
    meter = _progress.Meter(src.name if src.view is not None and src.view.mode == "mmap" else None)
    bar = _progress_for(args, src.total_nbytes, desc)
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


def _cmd_stats(args: argparse.Namespace) -> int:
    """``recview stats``: per-field count/min/max/mean in one scan, then run figures."""
    src = _open_source(args)
    try:
        columns = _columns(src.schema, args.fields)
        stats = [_FieldStats(c) for c in columns if c.info.dtype.kind in "iufb"]
        other = [c for c in columns if c.info.dtype.kind not in "iufb"]

        def consume(batch: NDArray) -> None:
            for s in stats:
                s.add(batch)

        figures = _scan(args, src, "stats", consume)
        records = src.records or 0
    finally:
        src.close()
    out = sys.stdout
    if args.format == "json":
        doc = {
            "file": src.name,
            "records": records,
            "fields": {s.column.name: s.as_dict() for s in stats},
            "skipped": [c.name for c in other],
            "run": figures.as_dict(),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    st = _Style(_use_color(args.color, out))
    out.write(f"{src.name}: {records:,} records of {src.schema.itemsize:,} bytes\n\n")
    rows = [["field", "type", "count", "min", "max", "mean"]]
    for s in stats:
        mean = s.mean
        count = f"{s.count:,}" + (f" (+{s.nan:,} NaN)" if s.nan else "")
        rows.append(
            [
                s.column.name,
                s.column.info.dtype.str,
                count,
                text_of(s.min),
                text_of(s.max),
                "" if mean is None else f"{mean:.15g}",
            ]
        )
    rows.extend([c.name, c.info.dtype.str, "(not numeric)", "", "", ""] for c in other)
    widths = [max(len(r[k]) for r in rows) for k in range(6)]
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[k].rjust(widths[k]) for k in range(2, 6)]
        line = "  ".join(cells).rstrip()
        out.write(f"{st.bold}{line}{st.reset}\n" if i == 0 else line + "\n")
    out.write("\n")
    for line in figures.lines():
        out.write(line + "\n")
    return EXIT_OK


# ---------------------------------------------------------------------------
# guess
# ---------------------------------------------------------------------------


def _cmd_guess(args: argparse.Namespace) -> int:
    """``recview guess``: infer record size, header size and a starting schema."""
    from recview import _guess

    if args.file == "-":
        data = sys.stdin.buffer.read(args.sample_nbytes)
        g = _guess.guess_bytes(data, max_itemsize=args.max_itemsize)
        name = "<stdin>"
    else:
        g = _guess.guess_file(
            args.file, sample_nbytes=args.sample_nbytes, max_itemsize=args.max_itemsize
        )
        name = args.file
    schema = Schema.from_dtype(g.dtype)
    if args.format == "json":
        text = json.dumps(
            {
                "itemsize": g.itemsize,
                "header_nbytes": g.header_nbytes,
                "records": g.records,
                "trailing_nbytes": g.trailing_nbytes,
                "score": round(g.score, 4),
                "candidates": [[p, round(s, 4)] for p, s in g.candidates],
                "fields": [
                    {"name": f.name, "offset": f.offset, "type": f.dtype.str, "kind": f.kind}
                    for f in g.fields
                ],
                "schema": json.loads(schema.to_json()),
            },
            indent=2,
        )
    else:
        text = schema.to_json(indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if not args.quiet:
        err = sys.stderr
        for line in _guess.describe(g, path=name):
            err.write(line + "\n")
        target = args.output or "schema.json"
        err.write(
            f"next: recview inspect {args.file} -s {target} --offset {g.header_nbytes} --record 0\n"
        )
    return EXIT_OK


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------


class Histogram:
    """A one-pass histogram whose range grows by doubling (bounded memory).

    Bins are merged in pairs whenever a value falls outside the range, so the
    counts stay exact for the final bins without knowing the range in advance.

    Examples
    --------
    >>> import numpy as np
    >>> h = Histogram(4)
    >>> h.add(np.array([0.0, 1.0])); h.add(np.array([10.0]))
    >>> int(h.counts.sum()), bool(h.edges()[0] <= 0.0 < 10.0 < h.edges()[-1])
    (3, True)
    """

    def __init__(self, bins: int) -> None:
        self.bins = bins + bins % 2
        self.counts = np.zeros(self.bins, dtype=np.int64)
        self.lo: float | None = None
        self.width = 0.0

    def add(self, values: NDArray) -> None:
        v = values[np.isfinite(values)].astype(np.float64)
        if not len(v):
            return
        vmin, vmax = float(v.min()), float(v.max())
        if self.lo is None:
            span = vmax - vmin or max(abs(vmin) * 1e-6, 1e-12)
            self.lo = vmin
            self.width = span / self.bins * (1 + 1e-9)
        half = self.bins // 2
        while vmin < self.lo:
            merged = self.counts.reshape(half, 2).sum(axis=1)
            self.counts = np.concatenate([np.zeros(half, np.int64), merged])
            self.lo -= self.bins * self.width
            self.width *= 2
        while vmax >= self.lo + self.bins * self.width:
            merged = self.counts.reshape(half, 2).sum(axis=1)
            self.counts = np.concatenate([merged, np.zeros(half, np.int64)])
            self.width *= 2
        idx = np.clip(((v - self.lo) / self.width).astype(np.int64), 0, self.bins - 1)
        self.counts += np.bincount(idx, minlength=self.bins)

    def edges(self) -> NDArray:
        """Bin edges (``bins + 1`` values)."""
        lo = 0.0 if self.lo is None else self.lo
        return lo + self.width * np.arange(self.bins + 1)


class Envelope:
    """A bounded series summary: per bucket of records, min, max and mean.

    Buckets double in size (merging pairs) whenever there would be more than
    ``max_buckets``, so a series of any length is drawn from bounded memory.

    Examples
    --------
    >>> import numpy as np
    >>> env = Envelope(4)
    >>> env.add(np.arange(10.0))
    >>> env.records_per_bucket, env.mins().tolist(), env.maxs().tolist()
    (4, [0.0, 4.0, 8.0], [3.0, 7.0, 9.0])
    """

    def __init__(self, max_buckets: int) -> None:
        self.max_buckets = max(2, max_buckets)
        self.records_per_bucket = 1
        self.seen = 0
        self._min = np.empty(0)
        self._max = np.empty(0)
        self._sum = np.empty(0)
        self._cnt = np.empty(0, dtype=np.int64)

    def add(self, values: NDArray) -> None:
        v = values.astype(np.float64).reshape(-1)
        if not len(v):
            return
        w = self.records_per_bucket
        ids = (self.seen + np.arange(len(v))) // w
        self.seen += len(v)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        finite = np.isfinite(v)
        lo = np.fmin.reduceat(np.where(finite, v, np.nan), starts)
        hi = np.fmax.reduceat(np.where(finite, v, np.nan), starts)
        sums = np.add.reduceat(np.where(finite, v, 0.0), starts)
        cnts = np.add.reduceat(finite.astype(np.int64), starts)
        first_id = int(ids[0])
        if len(self._cnt) and first_id == len(self._cnt) - 1:
            self._min[-1] = np.fmin(self._min[-1], lo[0])
            self._max[-1] = np.fmax(self._max[-1], hi[0])
            self._sum[-1] += sums[0]
            self._cnt[-1] += cnts[0]
            lo, hi, sums, cnts = lo[1:], hi[1:], sums[1:], cnts[1:]
        self._min = np.concatenate([self._min, lo])
        self._max = np.concatenate([self._max, hi])
        self._sum = np.concatenate([self._sum, sums])
        self._cnt = np.concatenate([self._cnt, cnts])
        while len(self._cnt) > self.max_buckets:
            self._merge()

    def _merge(self) -> None:
        n = len(self._cnt)
        if n % 2:
            pad = [np.array([np.nan]), np.array([np.nan]), np.array([0.0]), np.array([0])]
            self._min = np.concatenate([self._min, pad[0]])
            self._max = np.concatenate([self._max, pad[1]])
            self._sum = np.concatenate([self._sum, pad[2]])
            self._cnt = np.concatenate([self._cnt, pad[3].astype(np.int64)])
        self._min = np.fmin(self._min[0::2], self._min[1::2])
        self._max = np.fmax(self._max[0::2], self._max[1::2])
        self._sum = self._sum[0::2] + self._sum[1::2]
        self._cnt = self._cnt[0::2] + self._cnt[1::2]
        self.records_per_bucket *= 2

    def starts(self) -> NDArray:
        """Index of the first record of each bucket."""
        return np.arange(len(self._cnt)) * self.records_per_bucket

    def mins(self) -> NDArray:
        """Smallest finite value per bucket (NaN for a bucket with none)."""
        return self._min

    def maxs(self) -> NDArray:
        """Largest finite value per bucket."""
        return self._max

    def means(self) -> NDArray:
        """Mean of the finite values per bucket."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out: NDArray = self._sum / self._cnt
        return out


def _cmd_plot(args: argparse.Namespace) -> int:
    """``recview plot --field F -o out.png``: histogram or series of one field."""
    from recview._extras import require

    require("matplotlib", extra="plot", purpose="recview plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Before the scan: an image format matplotlib cannot write is a usage error.
    kinds = FigureCanvasAgg.get_supported_filetypes()
    suffix = os.path.splitext(args.output)[1].lower().lstrip(".")
    if suffix not in kinds:
        raise UsageError(
            f"-o {args.output}: cannot tell the image format from the suffix "
            f"(use one of {', '.join('.' + k for k in sorted(kinds))})"
        )
    src = _open_source(args)
    try:
        match = [c for c in _columns(src.schema, None) if c.name == args.field]
        if not match:
            names = ", ".join(c.name for c in _columns(src.schema, None))
            raise UsageError(f"--field: no field {args.field!r} (fields: {names})")
        column = match[0]
        if column.info.dtype.kind not in "iufb":
            raise UsageError(f"--field {args.field}: {column.info.dtype.str} is not numeric")
        if args.kind == "series" and column.info.shape:
            raise UsageError(
                f"--field {args.field}: a series needs a scalar field, not shape {column.info.shape}"
            )
        acc: Histogram | Envelope = (
            Histogram(args.bins) if args.kind == "hist" else Envelope(args.max_points)
        )

        def consume(batch: NDArray) -> None:
            acc.add(_leaf(batch, column.info.path).reshape(-1).astype(np.float64))

        _scan(args, src, "plot", consume)
        records = src.records or 0
    finally:
        src.close()
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if isinstance(acc, Histogram):
        edges = acc.edges()
        ax.stairs(acc.counts, edges, fill=True)
        ax.set_xlabel(args.field)
        ax.set_ylabel("records")
        drawn = int(acc.counts.sum())
    else:
        x = acc.starts()
        if acc.records_per_bucket == 1:
            ax.plot(x, acc.means(), linewidth=0.8)
        else:
            ax.fill_between(x, acc.mins(), acc.maxs(), alpha=0.35, linewidth=0, step="post")
            ax.plot(x, acc.means(), linewidth=0.8)
        ax.set_xlabel(
            "record"
            + (f" (buckets of {acc.records_per_bucket:,})" if acc.records_per_bucket > 1 else "")
        )
        ax.set_ylabel(args.field)
        drawn = acc.seen
    ax.set_title(f"{os.path.basename(src.name)}: {args.field} ({records:,} records)")
    fig.tight_layout()
    fig.savefig(args.output)
    if not args.quiet:
        print(f"recview: wrote {args.output} ({args.kind}, {drawn:,} values)", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------------
# argument parsing and main
# ---------------------------------------------------------------------------


def _nonneg_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _pos_int(text: str) -> int:
    value = _nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line (argparse prints the whole
    usage first); the subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        print(
            f"{self.prog}: error: {_one_line_text(message)} (see '{self.prog} -h')",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)


def _common_parser() -> argparse.ArgumentParser:
    """Options accepted both before and after the command.

    A fresh parser each time: parsers built with ``parents=`` share the action
    objects, and the main parser's defaults must not leak into the commands'.
    The commands' copies default to SUPPRESS, so that ``recview --debug head``
    is not reset by ``head`` having no ``--debug`` of its own.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bar or notes on standard error",
    )
    common.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default=argparse.SUPPRESS,
        help="colour in tables and dumps (auto: only on a terminal, unless NO_COLOR is set)",
    )
    return common


def _build_parser() -> argparse.ArgumentParser:
    from recview import __version__

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("file", metavar="FILE", help="the dump; '-' reads standard input")
    data.add_argument(
        "-s",
        "--schema",
        metavar="SPEC",
        help="record layout: schema.json, file.h[:struct], package.module:Name, "
        "path/file.py:Name, or a numpy dtype such as 'u8,f8' or \"[('ts','<u8')]\"",
    )
    data.add_argument(
        "--offset",
        type=_nonneg_int,
        default=0,
        metavar="NBYTES",
        help="bytes of file header before the first record (default 0; 0x.. accepted)",
    )
    data.add_argument(
        "--count",
        type=_nonneg_int,
        metavar="RECORDS",
        help="number of records after the header (default: as many as fit)",
    )
    data.add_argument(
        "--trailing",
        choices=("error", "ignore", "warn"),
        help="a partial record at the end: fail (default), leave it out, or warn",
    )
    data.add_argument(
        "--mode",
        choices=("mmap", "pread"),
        default="mmap",
        help="read files through a memory mapping (default) or pread copies",
    )
    data.add_argument(
        "--byteorder",
        choices=("little", "big", "native"),
        default="little",
        help="byte order of C header schemas (default little)",
    )
    data.add_argument(
        "--packed", action="store_true", help="lay out C header structs without padding"
    )

    rows_fmt = argparse.ArgumentParser(add_help=False)
    rows_fmt.add_argument(
        "--format",
        choices=("table", "csv", "jsonl", "json"),
        default="table",
        help="output format (default table)",
    )
    rows_fmt.add_argument(
        "--fields", metavar="A,B", help="comma-separated fields to show (nested: dotted names)"
    )

    scan = argparse.ArgumentParser(add_help=False)
    scan.add_argument(
        "--batch-nbytes",
        type=_pos_int,
        default=BATCH_NBYTES,
        metavar="NBYTES",
        help=f"bytes of records per batch: memory stays near one batch (default {BATCH_NBYTES})",
    )
    scan.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar even when standard error is not a terminal",
    )

    parser = _Parser(
        prog="recview",
        description="Look into fixed-width binary record files: "
        "inspect, slice, convert, stats, guess a layout.",
        epilog="Exit status: 0 ok, 1 data error, 2 usage error. "
        "'recview COMMAND -h' for a command's options.",
        parents=[_common_parser()],
    )
    parser.set_defaults(debug=False, quiet=False, color="auto")
    parser.add_argument("--version", action="version", version=f"recview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str, *parents: Any) -> Any:
        inherited: list[Any] = [_common_parser(), *parents]
        p = sub.add_parser(name, help=help_, description=help_, parents=inherited)
        p.set_defaults(func=func)
        return p

    p = add("info", _cmd_info, "file size, header, record size and count, the schema", data)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")

    first_n = argparse.ArgumentParser(add_help=False)
    first_n.add_argument(
        "-n", type=_nonneg_int, default=10, metavar="N", help="records (default 10)"
    )
    add("head", _cmd_head, "print the first records", data, rows_fmt, first_n)
    add("tail", _cmd_tail, "print the last records", data, rows_fmt, first_n)
    p = add("slice", _cmd_slice, "print records a..b", data, rows_fmt)
    p.add_argument(
        "--rows",
        type=parse_rows,
        required=True,
        metavar="A:B[:C]",
        help="Python slice of record indices; negative from the end: --rows=-20:",
    )

    p = add("inspect", _cmd_inspect, "annotated hex dump of a record and its neighbours", data)
    p.add_argument(
        "--record", type=_int, default=0, metavar="N", help="record index (negative: from the end)"
    )
    p.add_argument(
        "--context",
        type=_nonneg_int,
        default=1,
        metavar="K",
        help="neighbours shown on each side (default 1)",
    )

    p = add("convert", _cmd_convert, "convert to .csv, .jsonl, .npy or .parquet", data, scan)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file ('-': stdout)")
    p.add_argument("--to", choices=CONVERT_FORMATS, help="output format (default: from the suffix)")
    p.add_argument("--fields", metavar="A,B", help="comma-separated fields to write")
    p.add_argument(
        "--strings",
        choices=("bytes", "text"),
        default="bytes",
        help="Parquet: char[N] fields as their exact bytes (default, lossless) or as "
        "UTF-8 text with trailing NULs stripped (bytes that are not UTF-8 are an error)",
    )

    p = add("stats", _cmd_stats, "per-field count/min/max/mean, then run figures", data, scan)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.add_argument("--fields", metavar="A,B", help="comma-separated fields")

    p = add("guess", _cmd_guess, "infer record size, header and a starting JSON schema")
    p.add_argument("file", metavar="FILE", help="the dump; '-' reads standard input")
    p.add_argument(
        "--format",
        choices=("schema", "json"),
        default="schema",
        help="schema: the JSON schema only (default); json: the whole analysis",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write the JSON here, not to stdout")
    p.add_argument(
        "--max-itemsize",
        type=_pos_int,
        default=4096,
        metavar="NBYTES",
        help="largest record size tried (default 4096)",
    )
    p.add_argument(
        "--sample-nbytes",
        type=_pos_int,
        default=4 << 20,
        metavar="NBYTES",
        help="bytes read from the start of the file (default 4 MiB)",
    )

    p = add("plot", _cmd_plot, "histogram or series of one field to a PNG", data, scan)
    p.add_argument("--field", required=True, metavar="F", help="the field (dotted name)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="image file (.png...)")
    p.add_argument("--kind", choices=("hist", "series"), default="hist", help="histogram or series")
    p.add_argument("--bins", type=_pos_int, default=50, help="histogram bins (default 50)")
    p.add_argument(
        "--max-points",
        type=_pos_int,
        default=4000,
        metavar="N",
        help="series: most buckets drawn, each the min/max/mean of its records (default 4000)",
    )
    return parser


#: The library's hints name its keywords; the command line says its options.
_API_HINTS = (
    (
        re.compile(r"""pass trailing=["']ignore["'] or ["']warn["']"""),
        "use --trailing ignore or warn",
    ),
    (re.compile(r"""\b(trailing|mode|strings)=["']([\w-]+)["']"""), r"--\1 \2"),
    (re.compile(r"\b(offset|count)=(\d+)"), r"--\1 \2"),
    (re.compile(r"\bpass (--\w)"), r"use \1"),
)


def cli_hints(text: str) -> str:
    """A library message with its keyword hints said as command-line options.

    Examples
    --------
    >>> cli_hints('x.bin: 5 stray bytes (pass trailing="ignore" or "warn")')
    'x.bin: 5 stray bytes (use --trailing ignore or warn)'
    >>> cli_hints("reading with mode='pread' (copies) instead")
    'reading with --mode pread (copies) instead'
    """
    for pattern, replacement in _API_HINTS:
        text = pattern.sub(replacement, text)
    return text


def _one_line_text(text: str) -> str:
    return " ".join(text.split())


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror and not isinstance(err, RecviewError):
        where = f"{err.filename}: " if err.filename is not None else ""
        text = f"{where}{err.strerror}"
    else:
        text = str(err) or type(err).__name__
        if isinstance(err, KeyError) and err.args:
            text = str(err.args[0])
    if isinstance(err, (RecviewError, Warning)):
        text = cli_hints(text)
    return _one_line_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``recview`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 data error (bad schema, file that does not
        fit, missing file), 2 usage error.

    Examples
    --------
    >>> import contextlib, io, os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> np.array([(1, 9.5), (2, 9.75)], dtype=[("ts", "<u8"), ("px", "<f8")]).tofile(path)
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     status = main(["head", path, "-s", "u8,f8", "--format", "csv"])
    >>> status, out.getvalue()
    (0, 'f0,f1\\n1,9.5\\n2,9.75\\n')
    """
    prog = "recview"
    try:
        parser = _build_parser()
        try:
            args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
            return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
        if not getattr(args, "func", None):
            print("recview: error: a command is needed (see 'recview -h')", file=sys.stderr)
            return EXIT_USAGE
        prog = f"recview {args.command}"
        return _run(args, prog)
    except KeyboardInterrupt:
        return _interrupted(prog)


def _interrupted(prog: str) -> int:
    """Say ``interrupted`` in one line; a second Ctrl-C meanwhile is ignored
    (it would otherwise print a traceback from inside this handler)."""
    old: Any = None
    with contextlib.suppress(ValueError, OSError):  # only the main thread may set handlers
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError, ValueError):
            print(f"{prog}: interrupted", file=sys.stderr)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    return EXIT_INTERRUPTED


def _run(args: argparse.Namespace, prog: str) -> int:
    """Run the command; every failure becomes one line on standard error."""
    try:
        # Warnings (a LayoutWarning for --trailing warn) become one line each.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                status: int = args.func(args)
            finally:
                for w in caught:
                    message = w.message if isinstance(w.message, Warning) else Warning(w.message)
                    print(f"{prog}: warning: {_one_line(message)}", file=sys.stderr)
    except UsageError as err:
        if args.debug:
            traceback.print_exc()
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of our output went away (``recview head ... | head -1``):
        # not an error. Point stdout at devnull so the exit flush is quiet too.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (RecviewError, OSError, ImportError, KeyError) as err:
        if args.debug:
            traceback.print_exc()
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_DATA
    except Exception as err:  # noqa: BLE001 - a library's own error: still one line
        if args.debug:
            traceback.print_exc()
        print(
            f"{prog}: error: {type(err).__name__}: {_one_line(err)} (--debug shows where)",
            file=sys.stderr,
        )
        return EXIT_DATA
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
