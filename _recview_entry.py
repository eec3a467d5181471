"""The ``recview`` console script's entry point, outside the ``recview`` package.

Importing anything inside ``recview`` first runs ``recview/__init__.py``,
which imports numpy and the library (about 100 ms). A Ctrl-C in that time
would otherwise print a ``KeyboardInterrupt`` traceback from deep inside an
import. This module imports nothing heavy: :func:`main` makes a SIGINT during
the import exit at once with status 130 and one line, then hands over to
:func:`recview.cli.main`, which reports later interrupts itself.

What runs before this module cannot be covered: the interpreter's own start
(a SIGINT there kills the process, status 130 in the shell, silently) and
``site`` (a few milliseconds, where Python itself prints the traceback).
``python -m recview`` imports the ``recview`` package before any of its
code runs, so it is not covered either (docs/cli.md, "Exit status").
"""

from __future__ import annotations

import os
import sys

_EXIT_INTERRUPTED = 130  # recview.cli.EXIT_INTERRUPTED, which cannot be imported yet


def _exit_interrupted(*_: object) -> None:
    """Ctrl-C while the command line is being imported: one line, status 130.

    ``os._exit``: nothing has been written or opened yet, and a normal exit
    would run the half-imported modules' cleanup. (No ``typing`` here: it is
    not imported yet at start-up, and importing it takes milliseconds.)
    """
    try:
        os.write(2, b"recview: interrupted\n")
    finally:
        os._exit(_EXIT_INTERRUPTED)


def main() -> int:
    """Import :mod:`recview.cli` with Ctrl-C covered, then run it."""
    try:
        import signal  # inside the guard: importing it builds enums (about 1 ms)

        previous = signal.getsignal(signal.SIGINT)
        # Only Python's default handler is replaced: an ignored SIGINT (nohup,
        # a background job) or an embedding program's handler is left alone.
        guarded = previous is signal.default_int_handler
        if guarded:
            signal.signal(signal.SIGINT, _exit_interrupted)
    except KeyboardInterrupt:
        _exit_interrupted()
    try:
        from recview.cli import main as cli_main
    finally:
        if guarded:
            signal.signal(signal.SIGINT, previous)
    try:
        return cli_main()
    except KeyboardInterrupt:  # between the restore above and cli_main's own guard
        print("recview: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
