"""Just enough of the C preprocessor for headers, and GNU attributes as C23 tokens.

:class:`_Preprocessor` splices lines and drops comments (keeping line
numbers), expands object- and function-like macros, follows
``#if``/``#ifdef``/``#elif``/``#else``/``#endif`` (conditions evaluated with
:class:`~recview._c.consteval._Evaluator`), drops ``#include``, predefines what
GCC does for an LP64 target (``_PREDEFINED``; the byte order per call), and
records ``#pragma pack`` by source line for the layout engine
(:meth:`_Preprocessor.pack_at`). On the way out, GNU ``__attribute__((...))``
is rewritten as C23 ``[[gnu::...]]``, which pycparser parses
(:func:`_gnu_attributes`).
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pycparser import c_parser

from recview._c.consteval import _CInt, _Evaluator, _int_constant
from recview._vocab import NATIVE_ORDER
from recview.errors import SchemaError

_SCAN = re.compile(
    r"""
    (?P<nl>\n)
  | (?P<splice>\\[ \t]*\n)
  | (?P<line_comment>//(?:\\\n|[^\n])*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<open_comment>/\*)
  | (?P<string>(?:u8|[uUL])?"(?:\\.|[^"\\\n])*")
  | (?P<char>(?:u8|[uUL])?'(?:\\.|[^'\\\n])*')
  | (?P<text>[^\n\\/"'uUL]+|.)
    """,
    re.DOTALL | re.VERBOSE,
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>(?:u8|[uUL])?"(?:\\.|[^"\\])*")
  | (?P<char>(?:u8|[uUL])?'(?:\\.|[^'\\])*')
  | (?P<id>[A-Za-z_$][\w$]*)
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.]|'(?=[0-9a-fA-F]))*)
  | (?P<punct>\#\#|\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\[\[|\]\]|.)
    """,
    re.DOTALL | re.VERBOSE,
)

_IDENT = re.compile(r"[A-Za-z_$][\w$]*\Z")
_DIRECTIVE = re.compile(r"\s*#\s*([A-Za-z_]\w*|\d+)?(.*)\Z", re.DOTALL)


def _tokens(text: str) -> list[str]:
    return [m.group() for m in _TOKEN.finditer(text)]


def _is_ident(token: str) -> bool:
    return _IDENT.match(token) is not None


@dataclass(frozen=True)
class _Macro:
    name: str
    params: tuple[str, ...] | None  # None: object-like; else the fixed parameters
    variadic: str | None  # name of the variadic parameter (``__VA_ARGS__``, or GNU ``args...``)
    body: tuple[str, ...]
    line: int


def _predefined() -> dict[str, _Macro]:
    object_like = {
        # what GCC predefines for an LP64 target (the byte order is set per call)
        "__LP64__": "1", "_LP64": "1", "__CHAR_BIT__": "8", "CHAR_BIT": "8", "__STDC__": "1",
        "__ORDER_LITTLE_ENDIAN__": "1234", "__ORDER_BIG_ENDIAN__": "4321",
        "__ORDER_PDP_ENDIAN__": "3412", "__SIZEOF_SHORT__": "2", "__SIZEOF_INT__": "4",
        "__SIZEOF_LONG__": "8", "__SIZEOF_LONG_LONG__": "8", "__SIZEOF_POINTER__": "8",
        "__SIZEOF_SIZE_T__": "8", "__SIZEOF_FLOAT__": "4", "__SIZEOF_DOUBLE__": "8",
        "__SIZEOF_WCHAR_T__": "4",
        # glibc's <bits/wordsize.h>, <bits/timesize.h>, <endian.h> on every LP64 target
        "__WORDSIZE": "64", "__TIMESIZE": "64", "__LITTLE_ENDIAN": "1234",
        "__BIG_ENDIAN": "4321", "__PDP_ENDIAN": "3412",
        # glibc <sys/cdefs.h> and Linux decorations of declarations
        "__BEGIN_DECLS": "", "__END_DECLS": "", "__THROW": "", "__THROWNL": "", "__wur": "",
        "__attribute_nonstring__": "", "__attribute_pure__": "", "__attribute_const__": "",
        "__attribute_malloc__": "", "__attribute_deprecated__": "", "__extension__": "",
        "__restrict": "restrict", "__restrict__": "restrict", "__inline": "inline",
        "__inline__": "inline", "__const": "const", "__volatile__": "volatile",
        "__signed__": "signed", "__signed": "signed", "__always_inline": "inline",
        "__packed": "__attribute__((packed))", "__user": "", "__kernel": "", "__iomem": "",
        "__bitwise": "", "__force": "", "__le16": "__u16", "__be16": "__u16",
        "__le32": "__u32", "__be32": "__u32", "__le64": "__u64", "__be64": "__u64", "__sum16": "__u16", "__wsum": "__u32",
    }  # fmt: skip
    function_like = {
        "__nonnull": ("params",),
        "__asm__": ("...",),
        "__asm": ("...",),
        "__attr_access": ("x",),
        "__attribute_alloc_size__": ("params",),
        "__attribute_format_arg__": ("x",),
        "__attribute_format_strfmon__": ("a", "b"),
        "__REDIRECT": ("name", "proto", "alias"),
    }
    macros = {
        name: _Macro(name, None, None, tuple(_tokens(body)), 0)
        for name, body in object_like.items()
    }
    for name, params in function_like.items():
        variadic = params == ("...",)
        macros[name] = _Macro(
            name, () if variadic else params, "__VA_ARGS__" if variadic else None, (), 0
        )
    macros["__aligned"] = _Macro(
        "__aligned", ("x",), None, tuple(_tokens("__attribute__((aligned(x)))")), 0
    )
    return macros


_PREDEFINED = _predefined()

# In `#if`: these builtins are answered "no" (so the portable branch is taken).
_FALSE_IN_IF = {
    "__has_include", "__has_include_next", "__has_attribute", "__has_c_attribute",
    "__has_builtin", "__has_feature", "__has_extension", "__has_cpp_attribute",
}  # fmt: skip


@dataclass
class _Cond:
    parent_active: bool
    active: bool
    taken: bool
    seen_else: bool = False
    line: int = 0


def _logical_lines(source: str, file: str | None = None) -> Iterator[tuple[int, str, int]]:
    """Yield (first line number, text, number of physical lines) for each logical
    line: continuations spliced, comments replaced by a space. ``file`` names the
    source in the one error (``None``: the main source)."""
    line, span = 1, 1
    parts: list[str] = []
    for m in _SCAN.finditer(source.replace("\r\n", "\n").replace("\r", "\n")):
        kind = m.lastgroup
        text = m.group()
        if kind == "nl":
            yield line, "".join(parts), span
            line, span, parts = line + span, 1, []
        elif kind == "splice":
            span += 1
        elif kind == "line_comment" or kind == "block_comment":
            span += text.count("\n")
            parts.append(" ")
        elif kind == "open_comment":
            at = line + span - 1
            raise SchemaError(f"line {at}{f' of {file}' if file else ''}: unterminated /* comment")
        else:
            parts.append(text)
    yield line, "".join(parts), span


@dataclass(frozen=True)
class _Segment:
    """From virtual line ``start`` on, the output's lines are lines ``line``,
    ``line + 1``... of ``file`` (``None``: the main source)."""

    start: int
    file: str | None
    line: int
    system: bool  # a system header (a ``cc -E`` line marker with flag 3)


# What recview knows without reading the header: an #include of one of these is
# no loss (see _BUILTIN_TYPEDEFS in recview._c.types).
_KNOWN_HEADERS = frozenset(
    ["stdint.h", "stddef.h", "stdbool.h", "inttypes.h", "sys/types.h", "cstdint", "cstddef",
     "linux/types.h", "asm/types.h", "bits/types.h", "stdalign.h"]
)  # fmt: skip
_MAX_INCLUDE_DEPTH = 200  # as GCC's limit


class _Preprocessor:
    """Just enough of the C preprocessor for headers: see the :mod:`recview._c` docstring.

    The output is one text whose lines are *virtual* lines: an ``#include``d
    file's lines stand where the directive stood. pycparser's coordinates,
    ``#pragma pack`` positions and messages all count in virtual lines;
    :meth:`where` names the real file and line of one (``"line 7"`` in the
    main source, ``"line 3 of inc/types.h"`` in an included file).
    """

    def __init__(self, byteorder: str, include_dirs: Sequence[str] = ()) -> None:
        self.macros: dict[str, _Macro] = dict(_PREDEFINED)
        big = (NATIVE_ORDER if byteorder == "=" else byteorder) == ">"
        for name in ("__BYTE_ORDER__", "__BYTE_ORDER", "__FLOAT_WORD_ORDER__"):
            body = "4321" if big else "1234"
            self.macros[name] = _Macro(name, None, None, (body,), 0)
        self._pack: int | None = None
        self._pack_stack: list[tuple[str | None, int | None]] = []
        self._pack_lines: list[int] = [0]
        self._pack_values: list[int | None] = [self._pack]
        self._expr_parser = c_parser.CParser(dialect="c23")
        self.include_dirs = tuple(include_dirs)
        # every file read or named by a line marker: the cache checks them
        self.files: list[str] = []
        self.dropped: list[tuple[str, int]] = []  # <system> includes not read: (spelling, line)
        self._segments: list[_Segment] = []
        self._starts: list[int] = []
        self._vline = 1  # the virtual line the next output line will be
        self._stack: list[tuple[str, str]] = []  # included files being read: (realpath, name)
        self._once: set[str] = set()  # realpaths of files that said #pragma once

    def pack_at(self, line: int) -> int | None:
        """The ``#pragma pack`` value in effect on a source line (``None``: none)."""
        return self._pack_values[bisect.bisect_right(self._pack_lines, line) - 1]

    def _segment(self, line: int) -> _Segment | None:
        k = bisect.bisect_right(self._starts, line) - 1
        return self._segments[k] if k >= 0 else None

    def where(self, line: int) -> str:
        """Name a virtual line for a message: ``"line 7"`` in the main source,
        ``"line 3 of inc/types.h"`` in an included one."""
        seg = self._segment(line)
        if seg is None:
            return f"line {line}"
        real = seg.line + line - seg.start
        return f"line {real}" if seg.file is None else f"line {real} of {seg.file}"

    def in_main(self, line: int) -> bool:
        """Whether a virtual line comes from the main source (not an included file)."""
        seg = self._segment(line)
        return seg is None or seg.file is None

    def _map(self, file: str | None, line: int, system: bool) -> None:
        """Record that the next virtual line is ``line`` of ``file``."""
        if self._segments:
            last = self._segments[-1]
            if (last.file, last.system) == (file, system) and (
                last.line + self._vline - last.start == line
            ):
                return
        self._segments.append(_Segment(self._vline, file, line, system))
        self._starts.append(self._vline)

    def run(self, source: str) -> str:
        out: list[str] = []
        self._run_file(source, None, None, out)
        return "".join(out)

    def _emit(self, out: list[str], text: str, span: int) -> None:
        out.append(text + "\n" * span)
        self._vline += span

    def _run_file(self, source: str, file: str | None, directory: str | None,
                  out: list[str]) -> None:  # fmt: skip
        conds: list[_Cond] = []
        shift, name, system = 0, file, False  # line markers (cc -E output) move these
        for line, text, span in _logical_lines(source, file):
            self._map(name, line + shift, system)
            vline = self._vline
            active = conds[-1].active if conds else True
            m = _DIRECTIVE.match(text)
            if m is None:
                self._emit(out, self._expand_line(text, vline) if active else "", span)
                continue
            directive, rest = m.group(1) or "", m.group(2)
            if active and directive in ("include", "include_next", "import"):
                if self._include(directive, rest, vline, directory, out):
                    continue
            elif active and (directive.isdigit() or directive == "line"):
                marker = self._line_marker(directive, rest, vline)
                if marker is not None:
                    number, named, system = marker
                    shift = number - (line + span)
                    if named is not None:
                        name = None if named == "<stdin>" else named
            else:
                self._directive(directive, rest, vline, conds, active)
            self._emit(out, "", span)
        if conds:
            raise SchemaError(f"{self.where(conds[-1].line)}: #if without a matching #endif")

    def _line_marker(
        self, directive: str, rest: str, line: int
    ) -> tuple[int, str | None, bool] | None:
        """``# 12 "file.h" 1 3`` (cc -E) or ``#line 12 "file.h"``: the next line's
        number and file, and whether the file is a system header."""
        words = (rest if directive == "line" else f"{directive} {rest}").split(None, 1)
        if not words or not words[0].isdigit():
            if directive == "line":
                raise SchemaError(f"{self.where(line)}: malformed #line{rest}")
            return None
        named: str | None = None
        flags: list[str] = []
        if len(words) > 1:
            m = re.match(r'\s*"((?:\\.|[^"\\])*)"(.*)\Z', words[1], re.DOTALL)
            if m is not None:
                named = re.sub(r"\\(.)", r"\1", m.group(1))
                flags = m.group(2).split()
                if not named.startswith("<") and named not in self.files:
                    self.files.append(named)
        return int(words[0]), named, "3" in flags

    def _include(self, directive: str, rest: str, line: int, directory: str | None,
                 out: list[str]) -> bool:  # fmt: skip
        """Read an ``#include``d file into ``out``; ``False`` when it is not read
        (a ``<system>`` header that is in no include directory)."""
        spelled = rest.strip()
        if not spelled.startswith(('"', "<")):  # #include MACRO
            spelled = "".join(self._expand(_tokens(spelled), frozenset(), line)).strip()
        m = re.fullmatch(r'"([^"]+)"|<([^>]+)>', spelled)
        if m is None:
            raise SchemaError(f"{self.where(line)}: malformed #{directive} {rest.strip()}")
        quoted = m.group(1) is not None
        target = m.group(1) if quoted else m.group(2)
        if directive == "include_next":
            self.dropped.append((spelled, line))
            return False
        dirs = [directory] if quoted and directory is not None else []
        dirs += [d for d in self.include_dirs if d not in dirs]
        found = next((os.path.join(d, target) for d in dirs
                      if os.path.isfile(os.path.join(d, target))), None)  # fmt: skip
        if found is None and os.path.isabs(target) and os.path.isfile(target):
            found = target
        if found is None:
            if not quoted:
                self.dropped.append((spelled, line))
                return False
            searched = ", ".join(dirs) if dirs else "no directory: the source is text"
            raise SchemaError(
                f"{self.where(line)}: #include {spelled}: file not found (searched {searched}); "
                "pass include_dirs=[DIR] with the directory that holds it",
                path=target,
            )
        real = os.path.realpath(found)
        if real in self._once or (directive == "import" and real in self.files):
            return False
        chain = [name for path, name in self._stack]
        if sum(path == real for path, _ in self._stack) >= 2:
            first = max(k for k, (path, _) in enumerate(self._stack) if path == real)
            cycle = " -> ".join([*chain[first:], os.path.normpath(found)])
            raise SchemaError(
                f"{self.where(line)}: #include {spelled} is a cycle ({cycle}); give the header "
                "an include guard (#ifndef/#define) or #pragma once",
                path=found,
            )
        if len(self._stack) >= _MAX_INCLUDE_DEPTH:
            raise SchemaError(
                f"{self.where(line)}: #include {spelled}: includes nested more than "
                f"{_MAX_INCLUDE_DEPTH} deep ({' -> '.join(chain[-4:])} -> ...)",
                path=found,
            )
        try:
            with open(found, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as err:
            raise SchemaError(
                f"{self.where(line)}: #include {spelled}: cannot read {found}: {err.strerror}",
                path=found,
            ) from err
        if found not in self.files:
            self.files.append(found)
        self._stack.append((real, os.path.normpath(found)))
        try:
            self._run_file(text, os.path.normpath(found), os.path.dirname(found), out)
        finally:
            self._stack.pop()
        return True

    def dropped_hint(self) -> str:
        """For an error after preprocessing: the ``<system>`` includes that were
        not read and may hold what is missing (``""``: none that could)."""
        lost = [(spelled, line) for spelled, line in self.dropped
                if spelled[1:-1] not in _KNOWN_HEADERS]  # fmt: skip
        if not lost:
            return ""
        listed = ", ".join(f"#include {spelled} ({self.where(line)})" for spelled, line in lost[:4])
        more = f" and {len(lost) - 4} more" if len(lost) > 4 else ""
        return (
            f"; recview does not read system headers and dropped {listed}{more}: pass "
            "cpp=True to run the system preprocessor (cc -E) over the source"
        )

    # -- directives ---------------------------------------------------------

    def _directive(self, name: str, rest: str, line: int, conds: list[_Cond], active: bool) -> None:
        if name in ("if", "ifdef", "ifndef"):
            value = active and self._condition(name, rest, line)
            conds.append(_Cond(active, value, value, line=line))
            return
        if name in ("elif", "elifdef", "elifndef", "else", "endif"):
            if not conds:
                raise SchemaError(f"{self.where(line)}: #{name} without #if")
            cond = conds[-1]
            if name == "endif":
                conds.pop()
                return
            if cond.seen_else:
                raise SchemaError(f"{self.where(line)}: #{name} after #else")
            if name == "else":
                cond.seen_else = True
                cond.active = cond.parent_active and not cond.taken
            else:
                wanted = cond.parent_active and not cond.taken
                cond.active = wanted and self._condition(name[2:], rest, line)
            cond.taken = cond.taken or cond.active
            return
        if not active:
            return
        handler = {
            "define": self._define,
            "undef": self._undef,
            "pragma": self._pragma,
            "error": self._error,
        }.get(name)
        if handler is not None:
            handler(rest, line)
        elif name not in ("include", "include_next", "import", "line", "warning", "ident",
                          "sccs", "assert", "unassert", "") and not name.isdigit():  # fmt: skip
            raise SchemaError(f"{self.where(line)}: unknown preprocessor directive #{name}")

    def _error(self, rest: str, line: int) -> None:
        raise SchemaError(f"{self.where(line)}: #error {rest.strip()}")

    def _define(self, rest: str, line: int) -> None:
        m = re.match(r"\s*([A-Za-z_$][\w$]*)(\([^)]*\))?(.*)\Z", rest, re.DOTALL)
        if m is None:
            raise SchemaError(f"{self.where(line)}: malformed #define{rest}")
        name, params_text, body = m.group(1), m.group(2), m.group(3)
        params: tuple[str, ...] | None = None
        variadic: str | None = None
        if params_text is not None:
            plist = [p.strip() for p in params_text[1:-1].split(",")]
            if plist == [""]:
                plist = []
            if plist and plist[-1].endswith("..."):
                # `...` binds __VA_ARGS__; GNU `args...` names the variadic parameter
                variadic = plist.pop()[:-3].strip() or "__VA_ARGS__"
            if not all(_is_ident(p) for p in plist):
                raise SchemaError(f"{self.where(line)}: malformed parameters in #define {name}")
            params = tuple(plist)
        self.macros[name] = _Macro(name, params, variadic, tuple(_tokens(body.strip())), line)

    def _undef(self, rest: str, line: int) -> None:
        self.macros.pop(rest.strip(), None)

    def _pragma(self, rest: str, line: int) -> None:
        toks = [t for t in self._expand(_tokens(rest), frozenset(), line) if not t.isspace()]
        if toks == ["once"] and self._stack:
            self._once.add(self._stack[-1][0])
            return
        if not toks or toks[0] != "pack":
            return  # every other pragma: no effect on layout
        if len(toks) < 3 or toks[1] != "(" or toks[-1] != ")":
            raise SchemaError(f"{self.where(line)}: malformed #pragma pack{rest}")
        args = [a.strip() for a in "".join(toks[2:-1]).split(",")] if len(toks) > 3 else []
        words = [a for a in args if a]

        def size(text: str) -> int:
            value = _int_constant(text)
            if value is None or value[0] not in (1, 2, 4, 8, 16):
                raise SchemaError(
                    f"{self.where(line)}: #pragma pack({', '.join(args)}): the alignment must be "
                    "1, 2, 4, 8 or 16"
                )
            return value[0]

        if not words:
            self._pack = None
        elif words[0] in ("push", "pop"):
            # push[, label][, N] / pop[, label][, N] (the MSVC forms GCC accepts)
            label = words[1] if len(words) > 1 and _is_ident(words[1]) else None
            numbers = words[2:] if label is not None else words[1:]
            if len(numbers) > 1:
                raise SchemaError(f"{self.where(line)}: malformed #pragma pack({', '.join(args)})")
            if words[0] == "push":
                self._pack_stack.append((label, self._pack))
                if numbers:
                    self._pack = size(numbers[0])
                self._pack_lines.append(line)
                self._pack_values.append(self._pack)
                return
            if label is not None:
                while self._pack_stack and self._pack_stack[-1][0] != label:
                    self._pack_stack.pop()
            if self._pack_stack:
                self._pack = self._pack_stack.pop()[1]
            else:
                self._pack = None
            if numbers:
                self._pack = size(numbers[0])
        elif words[0] == "show":
            return
        elif len(words) == 1:
            self._pack = size(words[0])
        else:
            raise SchemaError(f"{self.where(line)}: malformed #pragma pack({', '.join(args)})")
        self._pack_lines.append(line)
        self._pack_values.append(self._pack)

    def _condition(self, kind: str, rest: str, line: int) -> bool:
        if kind in ("ifdef", "ifndef"):
            name = rest.strip()
            if not _is_ident(name):
                raise SchemaError(f"{self.where(line)}: #{kind} needs one macro name, got {name!r}")
            return (name in self.macros) == (kind == "ifdef")
        toks = [t for t in _tokens(rest) if not t.isspace()]
        resolved: list[str] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok == "defined":
                if i + 1 < len(toks) and toks[i + 1] == "(":
                    if i + 3 >= len(toks) or toks[i + 3] != ")":
                        raise SchemaError(f"{self.where(line)}: malformed defined() in #if{rest}")
                    name, i = toks[i + 2], i + 4
                elif i + 1 < len(toks):
                    name, i = toks[i + 1], i + 2
                else:
                    raise SchemaError(f"{self.where(line)}: defined without a name in #if{rest}")
                resolved.append("1" if name in self.macros else "0")
                continue
            if tok in _FALSE_IN_IF and i + 1 < len(toks) and toks[i + 1] == "(":
                depth, i = 0, i + 1
                while i < len(toks):
                    depth += {"(": 1, ")": -1}.get(toks[i], 0)
                    i += 1
                    if depth == 0:
                        break
                resolved.append("0")
                continue
            resolved.append(tok)
            i += 1
        expanded = self._expand(resolved, frozenset(), line)
        words = [
            ("1" if t == "true" else "0") if _is_ident(t) else t
            for t in expanded
            if not t.isspace()
        ]
        expr = " ".join(words)
        if not expr:
            raise SchemaError(f"{self.where(line)}: #{kind} with no expression")

        def fail(message: str) -> SchemaError:
            return SchemaError(f"{self.where(line)}: #{kind}{rest}: {message}")

        try:
            tree = self._expr_parser.parse(f"int __recview_if = ({expr});")
        except c_parser.ParseError as err:
            raise fail(f"cannot parse {expr!r}") from err

        def no_ident(name: str) -> _CInt:
            raise fail(f"unexpected identifier {name!r}")

        evaluator = _Evaluator(no_ident, None, fail, preprocessor=True)
        return evaluator.value(tree.ext[0].init) != 0

    # -- macro expansion ----------------------------------------------------

    def _expand_line(self, text: str, line: int) -> str:
        return "".join(
            _gnu_attributes(self._expand(_tokens(text), frozenset(), line), line, self.where)
        )

    def _expand(self, toks: Sequence[str], disabled: frozenset[str], line: int) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            macro = self.macros.get(tok)
            if macro is None or tok in disabled:
                out.append(tok)
                i += 1
                continue
            if macro.params is None:
                out.extend(self._expand(macro.body, disabled | {tok}, line))
                i += 1
                continue
            j = _next_token(toks, i + 1)
            if j >= len(toks) or toks[j] != "(":
                out.append(tok)  # a function-like macro's name alone is just a name
                i += 1
                continue
            args, i = _macro_args(toks, j, macro, line, self.where)
            out.extend(self._expand(self._substitute(macro, args, disabled, line),
                                    disabled | {tok}, line))  # fmt: skip
        return out

    def _substitute(
        self, macro: _Macro, args: list[list[str]], disabled: frozenset[str], line: int
    ) -> list[str]:
        assert macro.params is not None
        nparams = len(macro.params)
        names = list(macro.params)
        if macro.variadic is not None:
            if len(args) < nparams:
                raise SchemaError(
                    f"{self.where(line)}: macro {macro.name} takes at least {nparams} arguments, "
                    f"got {len(args)}"
                )
            extra = args[nparams:]
            rest: list[str] = []
            for k, arg in enumerate(extra):
                rest.extend([",", *arg] if k else arg)
            args = [*args[:nparams], rest]
            names.append(macro.variadic)
        elif len(args) != nparams and not (nparams == 0 and args == [[]]):
            raise SchemaError(
                f"{self.where(line)}: macro {macro.name} takes {nparams} arguments, got {len(args)}"
            )
        expanded = {
            name: self._expand(arg, disabled, line) for name, arg in zip(names, args, strict=True)
        }
        body: list[str] = []
        for tok in macro.body:
            if tok in ("#", "##"):
                raise SchemaError(
                    f"{self.where(line)}: macro {macro.name} (defined at {self.where(macro.line)}) uses "
                    f"'{tok}', which recview's C reader does not support; define the names "
                    "it builds by hand"
                )
            body.extend(expanded.get(tok, [tok]))
        return body


def _next_token(toks: Sequence[str], j: int) -> int:
    """Index of the first token at or after ``j`` that is not white space."""
    while j < len(toks) and toks[j].isspace():
        j += 1
    return j


def _macro_args(
    toks: Sequence[str], open_paren: int, macro: _Macro, line: int, where: Callable[[int], str]
) -> tuple[list[list[str]], int]:
    """Split a macro call's arguments at top-level commas; return them and the index
    after the closing parenthesis."""
    args: list[list[str]] = [[]]
    depth = 0
    i = open_paren + 1
    while i < len(toks):
        tok = toks[i]
        if tok in ("(", "[", "{"):
            depth += 1
        elif tok in (")", "]", "}"):
            if depth == 0 and tok == ")":
                return [[t for t in a if not t.isspace()] for a in args], i + 1
            depth -= 1
        elif tok == "," and depth == 0:
            args.append([])
            i += 1
            continue
        args[-1].append(tok)
        i += 1
    raise SchemaError(
        f"{where(line)}: the call of macro {macro.name} does not close its parenthesis on this "
        "line (recview expands function-like macros within one line)"
    )


def _join_tokens(toks: Sequence[str]) -> str:
    """Tokens back to text, with a space only where two words would merge."""
    out = ""
    for tok in toks:
        if out and (out[-1].isalnum() or out[-1] in "_$") and (tok[0].isalnum() or tok[0] in "_$"):
            out += " "
        out += tok
    return out


def _gnu_attributes(toks: list[str], line: int, where: Callable[[int], str]) -> list[str]:
    """Rewrite GNU ``__attribute__((a, b(x)))`` as C23 ``[[gnu::a, gnu::b(x)]]``,
    which pycparser understands in the same positions."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] not in ("__attribute__", "__attribute"):
            out.append(toks[i])
            i += 1
            continue
        j = _next_token(toks, i + 1)
        if j >= len(toks) or toks[j] != "(":
            raise SchemaError(f"{where(line)}: {toks[i]} without ((...))")
        depth, k = 0, j
        while k < len(toks):
            depth += {"(": 1, ")": -1}.get(toks[k], 0)
            k += 1
            if depth == 0:
                break
        else:
            raise SchemaError(
                f"{where(line)}: {toks[i]}((...)) does not close on this line "
                "(recview reads attributes within one line)"
            )
        inner = [t for t in toks[j + 1 : k - 1] if not t.isspace()]
        if len(inner) < 2 or inner[0] != "(" or inner[-1] != ")":
            raise SchemaError(f"{where(line)}: malformed {toks[i]}{''.join(toks[j:k])}")
        items: list[list[str]] = [[]]
        depth = 0
        for tok in inner[1:-1]:
            if tok == "," and depth == 0:
                items.append([])
                continue
            depth += {"(": 1, ")": -1}.get(tok, 0)
            items[-1].append(tok)
        specs = []
        for item in items:
            if not item:
                continue
            name = item[0]
            if not _is_ident(name):
                raise SchemaError(f"{where(line)}: malformed attribute {''.join(item)}")
            name = name[2:-2] if name.startswith("__") and name.endswith("__") else name
            specs.append(f"gnu::{name}{_join_tokens(item[1:])}")
        if specs:
            out.append(f"[[{', '.join(specs)}]]")
        i = k
    return out
