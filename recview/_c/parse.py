"""The pycparser front end: preprocessed C text to a syntax tree and a symbol table.

:func:`_front_end` preprocesses and parses a source once (cached), declaring
placeholder typedefs for the type names pycparser would otherwise choke on
(:func:`_guess_unknown_types`); a placeholder is refused later, and only if
the chosen record uses it. :class:`_SymbolTable` then records what the names
of the source mean -- typedefs, struct/union/enum tags, enumerators, static
assertions and the records that can be chosen -- and answers ``name=``
(:meth:`_SymbolTable.select`). Computing sizes is the layout engine's job
(:mod:`recview._c.layout`). Also here: where a node sits, for messages
(:func:`_line`, :func:`_where`).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pycparser import c_ast, c_parser

from recview._c.consteval import _CInt
from recview._c.preprocess import _is_ident, _Preprocessor, _tokens
from recview._c.types import _BUILTIN_TYPEDEFS
from recview.errors import SchemaError

_SOURCE_FILE = "<c>"

_C_KEYWORDS = frozenset(
    [
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "_Alignas",
        "_Alignof",
        "_Atomic",
        "_Bool",
        "_Complex",
        "_Generic",
        "_Imaginary",
        "_Noreturn",
        "_Static_assert",
        "_Thread_local",
        "alignas",
        "alignof",
        "bool",
        "constexpr",
        "false",
        "nullptr",
        "static_assert",
        "thread_local",
        "true",
        "typeof",
        "typeof_unqual",
        "offsetof",
        "__int128",
        "_BitInt",
    ]
)
_BEFORE_TYPE = frozenset(
    [
        ";",
        "{",
        "}",
        "(",
        ",",
        "]]",
        "const",
        "volatile",
        "typedef",
        "extern",
        "static",
        "register",
        "inline",
        "restrict",
        "_Atomic",
    ]
)


def _guess_unknown_types(text: str) -> set[str]:
    """Identifiers used where a type name must stand (``foo_t x;``): pycparser
    cannot parse a declaration whose type it does not know, so these are declared
    as placeholders and refused later, only if the chosen struct uses them."""
    toks = [t for t in _tokens(text) if not t.isspace()]
    found: set[str] = set()
    for k, tok in enumerate(toks):
        if not _is_ident(tok) or tok in _C_KEYWORDS or tok in _BUILTIN_TYPEDEFS:
            continue
        before = toks[k - 1] if k else ";"
        after = toks[k + 1] if k + 1 < len(toks) else ""
        if before in ("struct", "union", "enum") or before not in _BEFORE_TYPE:
            continue
        if (
            (_is_ident(after) and after not in _C_KEYWORDS)
            or after in ("const", "volatile")
            or (after == "*" and before not in ("(", ","))
        ):
            found.add(tok)
    return found


# Messages name virtual lines (see _Preprocessor.where) through this: set while
# one source is parsed and laid out, so that every "line N" names its file.
_WHERE: contextvars.ContextVar[Callable[[int], str] | None] = contextvars.ContextVar(
    "recview_c_where", default=None
)


@contextlib.contextmanager
def _locating(pre: _Preprocessor) -> Iterator[None]:
    """Messages raised inside name the file of each line, as ``pre`` read them;
    an error that a dropped ``<system>`` include may explain says so."""
    token = _WHERE.set(pre.where)
    try:
        yield
    except SchemaError as err:
        hint = pre.dropped_hint() if _MAY_BE_DROPPED.search(str(err)) else ""
        if not hint:
            raise
        raise SchemaError(f"{err}{hint}", path=err.path, field=err.field) from err
    finally:
        _WHERE.reset(token)


# errors that a declaration in an unread system header could have avoided
_MAY_BE_DROPPED = re.compile(
    r"unknown C type|unknown identifier|cannot parse|incomplete type|no struct, union or "
    r"typedef named|no (?:struct|union|enum) named"
)


def _at(line: int) -> str:
    where = _WHERE.get()
    return where(line) if where is not None else f"line {line}"


def _parse_error(err: Exception, parser: Any) -> SchemaError:
    text = str(err)
    m = re.match(r"(?P<file>[^:]*):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.*)", text, re.DOTALL)
    if m is not None and m.group("file") == _SOURCE_FILE:
        where = _at(int(m.group("line")))
        if m.group("col"):
            where += f", column {m.group('col')}"
        message = m.group("msg")
    else:
        message = re.sub(r"^[^:]*:\s*", "", text)
        lineno = getattr(getattr(parser, "clex", None), "_lineno", None)
        where = f"near {_at(lineno)}" if isinstance(lineno, int) else "C source"
    return SchemaError(
        f"{where}: cannot parse the C declarations ({message}); recview reads declarations "
        "of types (struct, union, enum, typedef), not arbitrary C code"
    )


def _parse(text: str) -> tuple[Any, set[str]]:
    """Parse preprocessed text; return the AST and the placeholder type names."""
    unknown: set[str] = set()
    first: tuple[Exception, Any] | None = None
    used = {m.group() for m in re.finditer(r"[A-Za-z_$][\w$]*", text)}
    builtins = sorted(used.intersection(_BUILTIN_TYPEDEFS))
    for attempt in range(2):
        names = builtins + sorted(unknown)
        prelude = "".join(f"typedef int {n};\n" for n in names)
        parser = c_parser.CParser(dialect="c23")
        try:
            ast = parser.parse(f'{prelude}#line 1 "{_SOURCE_FILE}"\n{text}', "<prelude>")
        except c_parser.ParseError as err:
            if attempt == 0:
                unknown = _guess_unknown_types(text)
                if unknown:
                    first = (err, parser)
                    continue
            if first is not None and "previously declared as typedef" in str(err):
                err, parser = first  # our placeholder caused this: report the real error
            raise _parse_error(err, parser) from None
        return ast, unknown
    raise AssertionError("unreachable")  # pragma: no cover


_CPP_TIMEOUT = 60.0  # seconds for the system preprocessor


def _system_preprocess(source: str, include_dirs: Sequence[str]) -> str:
    """Run the system C preprocessor (``$CC -E``, else ``cc -E``) over the source.

    Its line markers (``# 12 "/usr/include/time.h" 1 3``) stay in the output, so
    that messages name the header a line came from and a record defined in the
    main source is preferred over the system's own structs.
    """
    command = shlex.split(os.environ.get("CC") or "cc")
    if not command or shutil.which(command[0]) is None:
        raise SchemaError(
            f"cpp=True runs the system C preprocessor, but {command[0] if command else 'cc'!r} "
            "is not on PATH (install a C compiler, or set CC)"
        )
    argv = [*command, "-E", "-x", "c"]
    for directory in include_dirs:
        argv += ["-I", directory]
    try:
        done = subprocess.run(
            [*argv, "-"],
            input=source,
            capture_output=True,
            text=True,
            timeout=_CPP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise SchemaError(
            f"the system preprocessor ({shlex.join(argv)}) ran over {_CPP_TIMEOUT:g} s"
        ) from err
    except OSError as err:
        raise SchemaError(f"cannot run the system preprocessor {command[0]!r}: {err}") from err
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        detail = "; ".join(line.replace("<stdin>:", "line ") for line in lines[:3])
        raise SchemaError(
            f"the system preprocessor ({shlex.join(argv)}) failed (exit {done.returncode}): "
            f"{detail or 'no message'}"
        )
    return done.stdout


_CACHE_SIZE = 32
_cache: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
_cache_lock = threading.Lock()


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _stamps(paths: Sequence[str]) -> tuple[tuple[int, int] | None, ...]:
    """What the cache compares: each file's modification time and size."""
    return tuple(_stamp(path) for path in paths)


def _front_end(
    source: str, byteorder: str, include_dirs: tuple[str, ...] = (), cpp: bool = False
) -> tuple[_Preprocessor, Any, frozenset[str]]:
    """Preprocess and parse once per source text: picking several records from one
    header (or the same schema again) reuses the tree, which is never mutated.
    An entry is used again only while the files it read are unchanged."""
    key = (source, byteorder, include_dirs, cpp)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is not None and _stamps(hit[0].files) == hit[3]:
        return hit[0], hit[1], hit[2]
    pre = _Preprocessor(byteorder, include_dirs)
    text = _system_preprocess(source, include_dirs) if cpp else source
    with _locating(pre):
        ast, unknown = _parse(pre.run(text))
    entry = (pre, ast, frozenset(unknown), _stamps(pre.files))
    with _cache_lock:
        _cache[key] = entry
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return pre, ast, frozenset(unknown)


# -- where a node sits, for messages ------------------------------------------


def _where(path: str, line: int | None) -> str:
    at = f" ({_at(line)})" if line else ""
    return f"field {path!r}{at}" if path else (_at(line) if line else "C source")


def _line(node: Any) -> int:
    coord = getattr(node, "coord", None)
    line = getattr(coord, "line", None)
    return line if isinstance(line, int) else 0


class _SymbolTable:
    """What the names of one C source mean: typedefs, tags, enumerators.

    It records and looks up, and computes nothing: resolving a declarator,
    evaluating a constant (``sizeof``) or sizing an enum needs layouts, so that
    is :class:`~recview._c.layout._LayoutEngine`'s, which fills in
    :attr:`enum_values` as it sizes each enum. One table per
    :func:`~recview._c.parse_c` call; the tree it reads is cached and shared,
    never mutated.
    """

    def __init__(
        self, ast: Any, unknown: frozenset[str], in_main: Callable[[int], bool] | None = None
    ) -> None:
        self.unknown = unknown
        self._in_main = in_main  # whether a line is in the main source, not an #include  # placeholder type names (see _guess_unknown_types)
        self.typedefs: dict[str, Any] = {}
        self.tags: dict[tuple[str, str], list[Any]] = {}  # ("struct", "foo") -> definitions
        self.tag_attrs: dict[int, list[Any]] = {}  # id(tag node) -> attributes written after it
        self.enumerators: dict[str, Any] = {}  # enumerator name -> its enum definition
        self.enum_values: dict[str, _CInt] = {}  # enumerator name -> value, once sized
        self.asserts: list[Any] = []  # _Static_assert nodes
        self.candidates: list[tuple[Any, list[str]]] = []  # file-scope records, their names
        for ext in ast.ext:
            if _line(ext) == 0 or getattr(ext.coord, "file", None) != _SOURCE_FILE:
                continue  # the prelude's placeholder typedefs
            self._collect(ext)
            self._candidate(ext)

    # -- declarations -------------------------------------------------------

    def _collect(self, node: Any) -> None:
        if isinstance(node, c_ast.FuncDef):
            return  # function bodies declare nothing a record layout can use
        if isinstance(node, c_ast.Typedef):
            self.typedefs[node.name] = node
        elif isinstance(node, (c_ast.Struct, c_ast.Union)) and node.decls is not None:
            if node.name is not None:
                kind = "union" if isinstance(node, c_ast.Union) else "struct"
                self.tags.setdefault((kind, node.name), []).append(node)
        elif isinstance(node, c_ast.Enum) and node.values is not None:
            if node.name is not None:
                self.tags.setdefault(("enum", node.name), []).append(node)
            for enumerator in node.values.enumerators:
                if isinstance(enumerator, c_ast.Enumerator):
                    self.enumerators.setdefault(enumerator.name, node)
        elif isinstance(node, c_ast.AttributedType) and isinstance(
            node.type, (c_ast.Struct, c_ast.Union, c_ast.Enum)
        ):
            self.tag_attrs.setdefault(id(node.type), []).extend(node.attributes)
        elif isinstance(node, c_ast.StaticAssert):
            self.asserts.append(node)
        for _, child in node.children():
            self._collect(child)

    def _candidate(self, ext: Any) -> None:
        if not isinstance(ext, (c_ast.Decl, c_ast.Typedef)):
            return
        node, direct = ext.type, True
        while isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType, c_ast.ArrayDecl,
                                c_ast.PtrDecl)):  # fmt: skip
            direct = direct and isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType))
            node = node.type
        if not isinstance(node, (c_ast.Struct, c_ast.Union)) or node.decls is None:
            return
        for seen, names in self.candidates:
            if seen is node:
                if isinstance(ext, c_ast.Typedef) and direct:
                    names.append(ext.name)
                return
        names = [node.name] if node.name else []
        if isinstance(ext, c_ast.Typedef) and direct:
            names.append(ext.name)
        self.candidates.append((node, names))

    def label(self, node: Any) -> str:
        """How messages name a struct or union: its tag, else its typedef name."""
        kind = "union" if isinstance(node, c_ast.Union) else "struct"
        if node.name:
            return f"{kind} {node.name}"
        for seen, names in self.candidates:
            if seen is node and names:
                return names[0]
        return f"anonymous {kind} at {_at(_line(node))}"

    def select(self, name: str | None) -> Any:
        """The struct/union definition that ``name`` designates."""
        if name is None:
            # the record of a header is one it defines itself: the structs of the
            # files it includes are its building blocks
            in_main = self._in_main
            candidates = [
                c for c in self.candidates if in_main is None or in_main(_line(c[0]))
            ] or self.candidates
            if len(candidates) == 1:
                return candidates[0][0]
            if not candidates:
                raise SchemaError("C source: no struct or union definition found")
            listed = ", ".join(
                f"{names[0] if names else 'anonymous'} ({_at(_line(node))})"
                for node, names in candidates
            )
            raise SchemaError(
                f"{_at(_line(candidates[1][0]))}: the C source defines "
                f"{len(candidates)} structs/unions: {listed}; pass name= to pick one"
            )
        text = " ".join(name.split())
        kind_m = re.fullmatch(r"(struct|union) (\w+)", text)
        if kind_m is not None:
            return self.tag(kind_m.group(1), kind_m.group(2), "", 0, refusal_name=name)
        found: dict[int, Any] = {}
        for kind in ("struct", "union"):
            if (kind, text) in self.tags:
                node = self.tag(kind, text, "", 0)
                found[id(node)] = node
        typedef = self.typedefs.get(text)
        if typedef is not None:
            node = typedef.type
            while isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType)):
                node = node.type
            if isinstance(node, (c_ast.Struct, c_ast.Union)):
                kind = "union" if isinstance(node, c_ast.Union) else "struct"
                defn = (
                    node
                    if node.decls is not None
                    else self.tag(kind, node.name, "", _line(typedef), refusal_name=name)
                )
                found[id(defn)] = defn
            elif not found:
                raise SchemaError(
                    f"{_at(_line(typedef))}: typedef {text!r} is not a struct or union, "
                    "so it cannot describe a record"
                )
        if len(found) > 1:
            raise SchemaError(
                f"C source: {text!r} names both a struct/union tag and a typedef of another "
                f"type; pass name='struct {text}' or name='union {text}' for the tag"
            )
        if not found:
            known = sorted({n for _, names in self.candidates for n in names})
            raise SchemaError(
                f"C source: no struct, union or typedef named {name!r} "
                f"(defined: {', '.join(known) or 'none'})"
            )
        return next(iter(found.values()))

    def tag(
        self, kind: str, tag: str, path: str, line: int, *, refusal_name: str | None = None
    ) -> Any:
        """The one definition of ``struct tag`` (``kind`` "struct", "union" or "enum")."""
        defs = self.tags.get((kind, tag), [])
        if not defs:
            if refusal_name is not None and line == 0:
                raise SchemaError(f"C source: no {kind} named {tag!r} is defined")
            raise SchemaError(
                f"{_where(path, line)}: incomplete type '{kind} {tag}' (declared but not "
                "defined in the source)",
                field=path or None,
            )
        if len(defs) > 1:
            ats = [_at(_line(d)) for d in defs]
            lines = " and ".join(ats)
            if not any(" of " in at for at in ats):
                lines = "lines " + " and ".join(at.removeprefix("line ") for at in ats)
            raise SchemaError(f"{_at(_line(defs[1]))}: {kind} {tag!r} is defined twice "
                              f"({lines})")  # fmt: skip
        return defs[0]
