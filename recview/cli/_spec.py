"""Schema specs: what ``--schema/-s SPEC`` names, loaded as a :class:`~recview.schema.Schema`.

A JSON file, a C header (``file.h[:name]``), a Python object
(``package.module:Name``, ``path/file.py:Name``), inline JSON or a numpy dtype
literal (read with :func:`ast.literal_eval`, never evaluated).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from recview.cli._common import cut
from recview.errors import SchemaError
from recview.schema import Schema, as_schema

_MISSING = object()
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_C_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".c", ".cc", ".cpp")


def _from_c(
    path: str,
    name: str | None,
    byteorder: str,
    packed: bool,
    include_dirs: Sequence[str] = (),
    cpp: bool = False,
) -> Schema:
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    # as cc does: a header's quoted includes are looked for beside it first
    dirs = [os.path.dirname(path) or os.curdir, *include_dirs]
    try:
        return Schema.from_c(
            text, name, byteorder=byteorder, packed=packed, include_dirs=dirs, cpp=cpp
        )
    except SchemaError as err:
        # The library's hints name its keywords (name=..., cpp=True): say the options.
        message = str(err).replace("pass name= to pick one", f"pick one with --schema {path}:NAME")
        message = message.replace("pass cpp=True", "pass --cpp")
        message = message.replace("pass include_dirs=[DIR]", "pass -I DIR")
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


def load_schema(
    spec: str,
    *,
    byteorder: str = "<",
    packed: bool = False,
    include_dirs: Sequence[str] = (),
    cpp: bool = False,
) -> tuple[Schema, str]:
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
    include_dirs : sequence of str
        Where a C header's ``#include`` files are looked for, after the
        header's own directory (``-I DIR``).
    cpp : bool
        Run the system C preprocessor over a C header first (``--cpp``).

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
            raise SchemaError(f"--schema {cut(text)!r}: {err}", field=err.field) from err
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
            schema = _from_c(left, right or None, byteorder, packed, include_dirs, cpp)
            return schema, f"{text} (C header)"
    if os.path.isfile(text):
        if text.lower().endswith(_C_SUFFIXES):
            schema = _from_c(text, None, byteorder, packed, include_dirs, cpp)
            return schema, f"{text} (C header)"
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
