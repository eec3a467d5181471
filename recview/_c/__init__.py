"""C declarations to the dtype of a recview Schema, laid out as the C compiler would.

This private package is the engine behind :meth:`recview.Schema.from_c`: most
fixed-width dumps were written by C programs, and the header is the only schema
their users have. :func:`parse_c` runs a small preprocessor over the C text,
parses the result with a real C parser (:mod:`pycparser`, C23 dialect), and lays
out the chosen ``struct`` with the rules GCC and Clang use on LP64 platforms
(x86-64 and aarch64 Linux, macOS): natural alignment, padding before each member
to its alignment, trailing padding to the struct's alignment.

This file holds :func:`parse_c` and re-exports :class:`CLayout`; the modules
behind it are private, and each imports only those listed before it:

    types.py       the C type model (_Scalar, _Array, _Member, _Aggregate) and builtin types
    consteval.py   C integer constant expressions (_CInt, _Evaluator)
    preprocess.py  the preprocessor (_Preprocessor: macros, conditionals, #pragma pack)
    parse.py       the pycparser front end (_front_end) and the symbol table (_SymbolTable)
    layout.py      the layout engine (_LayoutEngine: sizes, alignment, offsets, packing)
    to_dtype.py    laid-out C types to a numpy dtype (_to_dtype) and the result, CLayout

Supported C
-----------
* ``struct`` and ``union`` -- named, anonymous, nested, arrays of them, C11
  anonymous members; ``typedef``; ``enum`` (as its integer type, names kept for
  display); multi-dimensional arrays; ``const``/``volatile`` are ignored.
* Types: ``char short int long``, ``long long``, ``signed``/``unsigned``,
  ``float double``, ``_Bool``/``bool``, ``_Float16/32/64``, pointers (see
  below), and without any ``#include``: the ``<stdint.h>`` and ``<stddef.h>``
  types (``int8_t`` .. ``uint64_t``, ``int_least*``, ``int_fast*``,
  ``intptr_t``, ``intmax_t``, ``size_t``, ``ptrdiff_t``...), the common
  ``<sys/types.h>`` ones (``ssize_t off_t time_t pid_t uid_t``...), glibc's
  ``__int32_t`` family and Linux's ``__u8`` .. ``__s64``. LP64 sizes:
  ``long``, ``size_t`` and pointers are 8 bytes.
* Constant expressions as array sizes and enum values: integer and character
  constants, ``#define`` names, enum constants, all C operators, casts,
  ``sizeof(type)``, ``_Alignof(type)``, ``offsetof(type, member)``; C integer
  semantics (types, unsigned wrap-around, truncating division). Nothing is
  ever passed to :func:`eval`.
* Preprocessor: comments, line continuations, ``#define`` (object- and
  function-like, variadic; ``#``/``##`` are refused), ``#undef``,
  ``#if/#ifdef/#ifndef/#elif/#else/#endif`` with ``defined``, include guards,
  ``#include "file.h"`` (read from the including file's directory, then
  ``include_dirs``; missing files and include cycles are errors naming the
  file and line; include guards and ``#pragma once`` work), ``#include
  <file.h>`` (read from ``include_dirs`` when there, otherwise dropped:
  system headers are not read unless ``cpp=True`` runs the system
  preprocessor first; what GCC predefines for an LP64 target is defined, e.g.
  ``__LP64__``, ``__SIZEOF_LONG__``, and ``__BYTE_ORDER__`` following
  ``byteorder``), ``#pragma pack(N)``,
  ``pack(push[, N])``, ``pack(pop)``, ``pack()``, ``#error`` (a
  :class:`~recview.errors.SchemaError`). Function-like macro calls and
  ``__attribute__((...))`` must fit on one line.
* Attributes, GNU ``__attribute__((...))`` or C23 ``[[gnu::...]]``:
  ``packed`` and ``aligned(N)`` on structs, unions, enums, members and typedefs;
  ``_Alignas``/``alignas``; ``scalar_storage_order("big-endian")`` on a struct
  or union (its scalar and array-of-scalar members take that byte order, as in
  GCC); other attributes are ignored, except ``mode`` and ``vector_size``,
  which change a type and are refused. Common glibc and Linux
  decorations (``__THROW``, ``__attribute_nonstring__``, ``__packed``...) are
  predefined away.
* ``_Static_assert`` in the source is checked when it can be evaluated.

Documented choices
------------------
* **Pointers** are laid out as the pointer-size integer: ``u8``, 8-byte
  aligned (the value is an address in the writing process, kept as a number).
* **Bitfields** are laid out as GCC does on x86-64 (``PCC_BITFIELD_TYPE_MATTERS``:
  a field never straddles a boundary of its type's alignment unless packed or
  under ``#pragma pack``; ``:0`` aligns to its type whatever the packing; a
  named bitfield aligns the struct, an unnamed one does not), with every
  integer type, ``_Bool`` and enums as base types. With ``byteorder=">"`` (or
  ``scalar_storage_order("big-endian")``) they are allocated from the most
  significant bit, as on s390x and powerpc64. Bitfields whose bytes touch
  share one hidden storage field ``_bits@<offset>`` (``u1 u2 u4 u8`` or
  ``V<n>``) and are leaves of :meth:`recview.Schema.fields` at their parent's
  level. Plain ``char`` bitfields are signed (x86-64), unsigned with
  ``byteorder=">"`` (s390x, powerpc64). Refused as GCC refuses them: a width
  over the type's, a negative width, a named ``:0``, a non-integer type,
  ``_Alignas`` on a bitfield. An attribute after the width
  (``int x : 3 __attribute__((packed))``) cannot be parsed: write it before
  the type.
* **long double** is refused: its format is platform-specific (x87 80-bit in
  16 bytes on x86-64, IEEE binary128 on aarch64). Declare
  ``_Alignas(16) uint8_t x[16]`` to keep the layout. ``__int128``,
  ``_Float128``, ``_Complex``, ``_BitInt`` and ``_Decimal*`` are refused
  likewise.
* **char**: plain ``char`` (and arrays of it, the last dimension) becomes numpy
  bytes ``S<n>``; ``signed char``, ``unsigned char``, ``int8_t``, ``uint8_t``
  are integers.
* **Enums** follow GCC: ``unsigned int`` when no value is negative, ``int``
  otherwise, 8 bytes when a value needs it; a ``packed`` enum takes the
  smallest integer that fits; a C23 ``enum e : T`` takes ``T``. Where several
  names share a value, the first is kept for display.
* **Anonymous members**: an anonymous struct inside a struct (or union inside
  a union) is flattened into its parent, so its members keep their C names.
  Any other anonymous member (a union in a struct, a struct in a union) becomes
  a nested field named ``_anon0``, ``_anon1``... in declaration order.
* **Unions** are nested structured dtypes whose members all sit at offset 0;
  their dotted paths are listed in :attr:`CLayout.unions`. When the chosen
  record is itself a union, the path is ``""``.
* **packed=True** lays out as ``gcc -fpack-struct`` does, as if every struct
  and union carried ``__attribute__((packed))``: members are 1-byte aligned
  (no padding) unless an ``aligned`` attribute or ``_Alignas`` on the member
  asks for more; ``#pragma pack`` then changes nothing (as in GCC).
* **byteorder** applies to every multi-byte number; ``"="`` means native.
* **Zero-length arrays** (GNU ``int x[0]``, or a computed padding size that
  reaches 0) take no bytes, as in GCC, yet align the next member and count in
  the record's alignment; they are no field of the dtype (nor is a member
  whose type takes no bytes). A record with no bytes at all is refused.
* Flexible array members (``int x[]``), empty structs, ``void`` members, structs that contain themselves and arrays
  of over-aligned elements (which GCC refuses too) are refused; so are unknown
  types and identifiers, each error naming the dotted field path and the C
  line number. Only what the chosen record uses must be understood: an
  unknown type in another struct of the header is no error.
* The preprocessed, parsed source is cached (32 sources), so picking several
  records from one header parses it once; an entry is used again only while
  the files it included are unchanged (size and modification time).
* Lines in messages are the main source's (``line 7``) or name the included
  file (``line 3 of inc/types.h``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from recview._bits import Storage
from recview._c.layout import _LayoutEngine
from recview._c.parse import _front_end, _locating, _SymbolTable
from recview._c.to_dtype import CLayout, _has_fields, _to_dtype
from recview.errors import SchemaError

__all__ = ["CLayout", "parse_c"]


def parse_c(
    source: str,
    name: str | None = None,
    *,
    byteorder: str = "<",
    packed: bool = False,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    cpp: bool = False,
) -> CLayout:
    """Lay out a C ``struct`` (or ``union``) from its declarations, as GCC would.

    Parameters
    ----------
    source : str
        C source text: a header or declarations. ``<stdint.h>`` types are known
        without an ``#include``; see the package docstring for the supported C.
    name : str, optional
        The record to lay out: a struct or union tag (``"utmp"`` or
        ``"struct utmp"``) or a ``typedef`` name. Needed when the source defines
        several structs or unions at file scope.
    byteorder : {"<", ">", "="}
        Byte order of every multi-byte number in the records (``"="``: native).
    packed : bool
        Lay out as ``gcc -fpack-struct`` does, as if every struct and union
        were ``__attribute__((packed))``: no padding between members, unless
        an ``aligned`` attribute or ``_Alignas`` in the source asks for it.
    include_dirs : sequence of paths
        Where ``#include "file.h"`` and ``#include <file.h>`` look for files,
        in order, as ``cc -I DIR`` does; an included file's quoted includes are
        looked for in its own directory first. A ``<system>`` header found in
        none of them is not read (its types may then be unknown: the error
        names it); a quoted one is an error.
    cpp : bool
        Run the system C preprocessor (``$CC -E``, else ``cc -E``, with
        ``include_dirs`` as ``-I``) over the source first, so that system
        headers are read too. Its macros are the host's, whatever
        ``byteorder`` says. When ``name`` is not given, a record defined in the
        source itself is chosen over those of the headers it includes.

    Returns
    -------
    CLayout
        The dtype (``itemsize == sizeof``), the dotted paths of union fields and
        the enum names of enum-typed fields.

    Raises
    ------
    SchemaError
        For anything recview cannot lay out exactly as the compiler does: an
        unknown type or identifier, a bitfield GCC refuses, a flexible array member, a
        ``long double``, several structs and no ``name``, unparsable C... The
        message gives the C line and the dotted field path (also in
        ``err.field``).

    Examples
    --------
    >>> layout = parse_c('''
    ...     #define NAME_LEN 6
    ...     enum side { BUY = 1, SELL = 2 };
    ...     struct tick {
    ...         uint64_t ts;            /* nanoseconds */
    ...         char name[NAME_LEN];
    ...         enum side side;         /* 4 bytes, 4-aligned */
    ...         union { float f; int32_t i; } px;
    ...     };
    ... ''')
    >>> layout.dtype.itemsize, layout.dtype.fields["side"][1], layout.dtype.fields["px"][1]
    (24, 16, 20)
    >>> layout.dtype["name"], layout.unions, layout.enums["side"]
    (dtype('S6'), frozenset({'px'}), {1: 'BUY', 2: 'SELL'})
    >>> parse_c("struct p { char c; uint32_t n; };", packed=True, byteorder=">").dtype
    dtype([('c', 'S1'), ('n', '>u4')])
    """
    if byteorder not in ("<", ">", "="):
        raise SchemaError(f"byteorder must be '<', '>' or '=', got {byteorder!r}")
    if not isinstance(source, str):
        raise SchemaError(f"C source must be a str, got {type(source).__name__}")
    dirs = tuple(os.fspath(d) for d in include_dirs)
    pre, ast, unknown = _front_end(source, byteorder, dirs, bool(cpp))
    with _locating(pre):
        symbols = _SymbolTable(ast, unknown, pre.in_main)
        engine = _LayoutEngine(symbols, pre, packed=packed)
        record = engine.layout(symbols.select(name), "")
        if record.size == 0:
            raise SchemaError(
                f"C source: {record.label} has size 0 (all its members are zero-length "
                "arrays): there are no bytes to read"
            )
        if not _has_fields(record):
            raise SchemaError(
                f"C source: {record.label} has no named members (only unnamed bitfields or "
                "empty structs): there are no fields to read"
            )
        engine.check_static_asserts()
        unions: set[str] = set()
        enums: dict[str, dict[int, str]] = {}
        bitfields: dict[str, Storage] = {}
        dtype = _to_dtype(record, "", byteorder, unions, enums, None, bitfields)
    return CLayout(dtype, frozenset(unions), enums, bitfields)
