"""The ``recview`` command line: look into binary record files before writing any code.

This package owns the argparse front door (the ``recview`` console script and
``python -m recview``): this module builds the parser, runs a command and
turns every failure into one line on standard error. The rooms behind it,
each private, with imports pointing one way (commands use the shared modules,
never each other; this module imports the commands)::

    _common.py    exit statuses, UsageError, shared constants
    _spec.py      --schema SPEC → Schema (JSON, C header, module:Name, dtype literal)
    _sources.py   a mapped file or a one-pass stream (stdin, FIFO, compressed); scan()
    _render.py    values → cells, styles, RowWriter (table, csv, jsonl, json)
    _writers.py   .npy, Parquet, CSV/JSON lines writers; Output (atomic temp file)
    _progress.py  progress bar and run figures (time, RSS, page faults, mapped bytes)
    _info.py      info                       _records.py   head, tail, slice, inspect
    _convert.py   convert                    _stats.py     stats
    _guess.py     guess (layout inference)   _plot.py      plot (Histogram, Envelope)
    _sql.py       sql (DuckDB over the files)   _dump.py      dump (any byte range)
    _help.py      what each command does and its examples (the --help pages)
    _hexdump.py   hex and ASCII columns, a record's fields as rows (inspect, dump)

The work on the records themselves is done by :mod:`recview.view` (files,
memory-mapped), :mod:`recview.streams` (standard input and compressed files) and
:mod:`recview.interop` (Parquet).

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
    recview sql     FILE -s SPEC "select ... from t"    DuckDB SQL over the records
    recview dump    FILE --offset N --length M [-s SPEC --records-at OFF]  any byte range, annotated

``FILE`` may be ``-`` (standard input) or a ``.gz``/``.bz2``/``.xz``/``.zst``
file, read as a stream. Exit status: 0 on success, 1 on a data error (a
:class:`~recview.errors.RecviewError` or an ``OSError``: bad schema, file too
short, missing file), 2 on a usage error. Errors are one line on standard
error; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, cast

from recview import __version__
from recview.cli._common import (
    BATCH_NBYTES,
    EXIT_DATA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    parse_nbytes,
)
from recview.cli._convert import cmd_convert
from recview.cli._dump import DEFAULT_LENGTH, cmd_dump
from recview.cli._guess import cmd_guess
from recview.cli._help import HELP as _HELP, HelpFormatter as _HelpFormatter
from recview.cli._info import cmd_info
from recview.cli._plot import cmd_plot
from recview.cli._records import cmd_head, cmd_inspect, cmd_slice, cmd_tail, parse_rows
from recview.cli._sources import add_frames_options, add_source_options
from recview.cli._spec import load_schema
from recview.cli._sql import cmd_sql, parse_table
from recview.cli._stats import cmd_stats
from recview.cli._writers import CONVERT_FORMATS
from recview.errors import RecviewError

__all__ = [
    "EXIT_DATA",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "cli_hints",
    "load_schema",
    "main",
]


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _nbytes(text: str) -> int:
    try:
        return parse_nbytes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _at_least(parse: Callable[[str], int], minimum: int) -> Callable[[str], int]:
    """An argparse ``type=``: ``parse(text)``, refused below ``minimum`` (0 or 1)."""

    def check(text: str) -> int:
        value = parse(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be > {minimum - 1}")
        return value

    return check


_nonneg_int = _at_least(_int, 0)
_pos_int = _at_least(_int, 1)
_nonneg_nbytes = _at_least(_nbytes, 0)
_pos_nbytes = _at_least(_nbytes, 1)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line (argparse prints the whole
    usage first); the subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        print(
            f"{self.prog}: error: {_one_line_text(message)} (see '{self.prog} -h')",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)


def _common_parser(*, with_help: bool = False) -> argparse.ArgumentParser:
    """Options accepted both before and after the command (``-h`` too for a
    command: its help lists them last, under "common options").

    A fresh parser each time: parsers built with ``parents=`` share the action
    objects, and the main parser's defaults must not leak into the commands'.
    The commands' copies default to SUPPRESS, so that ``recview --debug head``
    is not reset by ``head`` having no ``--debug`` of its own.
    """
    parser = argparse.ArgumentParser(add_help=False)
    common = parser.add_argument_group("common options")
    if with_help:
        common.add_argument("-h", "--help", action="help", help="show this help and exit")
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
    return parser


def _build_parser() -> argparse.ArgumentParser:
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("file", metavar="FILE", help="the dump; '-' reads standard input")
    reading = data.add_argument_group("reading the file")
    reading.add_argument(
        "-s",
        "--schema",
        metavar="SPEC",
        help="record layout: schema.json, file.h[:struct], package.module:Name, "
        "path/file.py:Name, or a numpy dtype such as 'u8,f8' or \"[('ts','<u8')]\"",
    )
    reading.add_argument(
        "--offset",
        type=_nonneg_nbytes,
        default=0,
        metavar="NBYTES",
        help="bytes of file header before the first record (default 0; 0x40, 4K, 1MiB accepted)",
    )
    reading.add_argument(
        "--count",
        type=_nonneg_int,
        metavar="RECORDS",
        help="number of records after the header (default: as many as fit)",
    )
    reading.add_argument(
        "--trailing",
        choices=("error", "ignore", "warn"),
        help="a partial record at the end: fail (default), leave it out, or warn",
    )
    reading.add_argument(
        "--mode",
        choices=("mmap", "pread"),
        default="mmap",
        help="read files through a memory mapping (default) or pread copies",
    )
    reading.add_argument(
        "--byteorder",
        choices=("little", "big", "native"),
        default="little",
        help="byte order of C header schemas (default little)",
    )
    reading.add_argument(
        "--packed", action="store_true", help="lay out C header structs without padding"
    )
    add_source_options(cast(argparse.ArgumentParser, reading))  # a group has add_argument too
    reading.add_argument(
        "-I",
        dest="include_dirs",
        action="append",
        default=[],
        metavar="DIR",
        help="where a C header's #include files are looked for (after its own "
        "directory); repeatable",
    )
    reading.add_argument(
        "--cpp",
        action="store_true",
        help="run the system C preprocessor (cc -E) over a C header first, so that "
        "its <system> includes are read",
    )
    add_frames_options(data)  # its own group

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
    rows_fmt.add_argument(
        "--hex",
        action="store_true",
        help="integer fields in hexadecimal (their bits: 0xffff for -1)",
    )
    rows_fmt.add_argument(
        "--vertical",
        action="store_true",
        help="table: one 'field  value' line each, records one under another (for wide records; "
        "a wide table is otherwise cut to the terminal's width with …)",
    )

    scan = argparse.ArgumentParser(add_help=False)
    scan.add_argument(
        "--batch-nbytes",
        type=_pos_nbytes,
        default=BATCH_NBYTES,
        metavar="NBYTES",
        help="bytes of records per batch: memory stays near one batch "
        f"(default {BATCH_NBYTES >> 20}MiB; 64K, 1MiB, 64M accepted)",
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
        "'recview COMMAND -h' for a command's options and examples; "
        "the guide with worked examples is docs/cli.md in the recview sources.",
        parents=[_common_parser()],
    )
    parser.set_defaults(debug=False, quiet=False, color="auto")
    parser.add_argument("--version", action="version", version=f"recview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str, *parents: Any) -> Any:
        inherited: list[Any] = [*parents, _common_parser(with_help=True)]
        # A command without its page in _help.py still runs (tests/unit/cli/test_help.py
        # fails for it, naming it).
        about, examples = _HELP.get(name, ("", []))
        summary = f"{help_[0].upper()}{help_[1:]}."
        p = sub.add_parser(
            name,
            help=help_,
            description=f"{summary}\n\n{about}" if about else summary,
            epilog="Examples:\n" + "\n".join(f"  {line}" for line in examples)
            if examples
            else None,
            formatter_class=_HelpFormatter,
            parents=inherited,
            add_help=False,
        )
        p.set_defaults(func=func)
        return p

    p = add("info", cmd_info, "file size, header, record size and count, the schema", data)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")

    first_n = argparse.ArgumentParser(add_help=False)
    first_n.add_argument(
        "-n", type=_nonneg_int, default=10, metavar="N", help="records (default 10)"
    )
    add("head", cmd_head, "print the first records", data, rows_fmt, first_n)
    add("tail", cmd_tail, "print the last records", data, rows_fmt, first_n)
    p = add("slice", cmd_slice, "print records a..b", data, rows_fmt)
    p.add_argument(
        "--rows",
        type=parse_rows,
        required=True,
        metavar="A:B[:C]",
        help="Python slice of record indices; negative from the end: --rows=-20:",
    )

    p = add("inspect", cmd_inspect, "annotated hex dump of a record and its neighbours", data)
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

    p = add("convert", cmd_convert, "convert to .csv, .jsonl, .npy or .parquet", data, scan)
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

    p = add("stats", cmd_stats, "per-field count/min/max/mean, then run figures", data, scan)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.add_argument("--fields", metavar="A,B", help="comma-separated fields")

    p = add("guess", cmd_guess, "infer record size, header and a starting JSON schema")
    p.add_argument("file", metavar="FILE", help="the dump (a path or URL); '-' reads standard input")
    add_source_options(p)
    p.add_argument(
        "--format",
        choices=("schema", "json"),
        default="schema",
        help="schema: the JSON schema only (default); json: the whole analysis",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write the JSON here, not to stdout")
    p.add_argument(
        "--max-itemsize",
        type=_pos_nbytes,
        default=4096,
        metavar="NBYTES",
        help="largest record size tried (default 4096)",
    )
    p.add_argument(
        "--sample-nbytes",
        type=_pos_nbytes,
        default=4 << 20,
        metavar="NBYTES",
        help="bytes read from the start of the file (default 4 MiB)",
    )

    p = add("plot", cmd_plot, "histogram or series of one field to a PNG", data, scan)
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
    p = add("dump", cmd_dump, "annotated hex dump of any byte range of any file")
    p.add_argument("file", metavar="FILE", help="any file or URL; '-' reads standard input")
    add_source_options(p)
    p.add_argument(
        "--offset",
        type=_nbytes,
        default=0,
        metavar="NBYTES",
        help="first byte shown (default 0; negative: from the end; 0x.., 64K, 1GiB accepted)",
    )
    p.add_argument(
        "--length",
        type=_nonneg_nbytes,
        default=DEFAULT_LENGTH,
        metavar="NBYTES",
        help=f"bytes shown (default {DEFAULT_LENGTH}; fewer where the file ends)",
    )
    p.add_argument(
        "-s",
        "--schema",
        metavar="SPEC",
        help="annotate the records field by field (SPEC as for the other commands)",
    )
    p.add_argument(
        "--records-at",
        type=_nonneg_nbytes,
        metavar="NBYTES",
        help="byte offset of the first record (default 0): the bytes before it are the header",
    )
    p.add_argument(
        "--count",
        type=_nonneg_int,
        metavar="RECORDS",
        help="records from --records-at on (default: as many as fit); the rest is trailing bytes",
    )
    p.add_argument(
        "--byteorder",
        choices=("little", "big", "native"),
        default="little",
        help="byte order of C header schemas (default little)",
    )
    p.add_argument("--packed", action="store_true", help="lay out C header structs without padding")

    p = add("sql", cmd_sql, "run a DuckDB SQL query over the records (the file is table t)", data)
    p.add_argument("query", metavar="QUERY", help="DuckDB SQL; the file is table t")
    p.add_argument(
        "--table",
        type=parse_table,
        action="append",
        default=[],
        metavar="NAME=FILE:SCHEMA",
        help="one more table (repeatable); SCHEMA as for -s (default: -s's)",
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "jsonl", "json"),
        default="table",
        help="output format (default table)",
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
        with _unwind_on_termination():
            return _main(argv)
    except _Terminated as t:
        with contextlib.suppress(OSError, ValueError):
            print(f"{t.prog}: terminated ({signal.Signals(t.signum).name})", file=sys.stderr)
        return 128 + t.signum
    except KeyboardInterrupt:
        return _interrupted(prog)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (``finally`` blocks remove temporary
    outputs), then exit with status 128 + the signal number."""

    prog = "recview"

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _unwind_on_termination() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`_Terminated` while a command runs
    (only where Python's default applies: an ignored signal stays ignored),
    so an interrupted ``convert`` leaves no temporary file behind."""
    installed: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is signal.SIG_DFL:
                installed[sig] = signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for signum, old in installed.items():
            signal.signal(signum, old)


def _main(argv: Sequence[str] | None) -> int:
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
        prog = _Terminated.prog = f"recview {args.command}"
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
