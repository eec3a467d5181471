"""Build the optional C extension ``recview._guard`` (the SIGBUS guard).

Everything else about the package lives in ``pyproject.toml``.  The extension
is optional: when it cannot be compiled (no compiler, no Python headers, not a
POSIX system) the install still succeeds with a warning, and
``recview._mapping`` falls back to plain :mod:`mmap` mappings without the guard
(``GUARD_AVAILABLE`` is then False).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing when the guard cannot be built."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure must not fail the install
            self._warn(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    @staticmethod
    def _warn(exc: BaseException) -> None:
        sys.stderr.write(
            "WARNING: recview's C extension (the SIGBUS guard) could not be built "
            f"({type(exc).__name__}: {exc}); recview will use plain mmap mappings "
            "without the guard.\n"
        )


ext_modules = []
if sys.platform != "win32":
    ext_modules.append(
        Extension(
            "recview._guard",
            sources=["recview/_guard.c"],
            extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    )
    # The index pass over framed records (recview.frames has a Python twin).
    ext_modules.append(
        Extension(
            "recview._frames",
            sources=["recview/_frames.c"],
            extra_compile_args=["-std=gnu11", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    )
    # The one-pass split of records into columns, and its outputs' allocator
    # (View.columns() copies with numpy when it is not built). numpy's headers
    # come from the build requirements (pyproject.toml).
    try:
        import numpy
    except ImportError:
        sys.stderr.write("WARNING: numpy is not installed: recview._columns is not built.\n")
    else:
        ext_modules.append(
            Extension(
                "recview._columns",
                sources=["recview/_columns.c"],
                include_dirs=[numpy.get_include()],
                extra_compile_args=[
                    "-std=gnu11",
                    "-O3",
                    "-Wall",
                    "-Wextra",
                    "-Wno-unused-parameter",
                ],
                optional=True,
            )
        )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
