"""The C preprocessor and constant expressions (:mod:`recview._c.preprocess`,
:mod:`recview._c.consteval`): macros, conditionals, real-header noise,
static assertions, and the cached front end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recview._c import parse_c
from tests.unit.c._helpers import refusal

# ---------------------------------------------------------------------------
# Preprocessor and constant expressions
# ---------------------------------------------------------------------------

REAL_HEADER = r"""
/* rec.h -- a record as written by the logger.
 * Copyright ... (a comment with a brace } and a 'quote)
 */
#ifndef REC_H
#define REC_H

#include <stdint.h>
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAME_LEN   16          // bytes, NUL padded
#define SLOTS      (NAME_LEN / 4 + 1)
#define ROUND8(n)  (((n) + 7) & ~7)
#define FLAG(...)  (__VA_ARGS__)
#define LONG_EXPR  (1 + \
                    2)

#if defined(REC_WIDE) || SLOTS > 100
#  error "not this branch"
#elif !defined REC_H
#  error "nor this one"
#else
#  define KEPT 3
#endif
#ifdef UNDEFINED_THING
   this is not C at all
#endif
#undef ROUND8
#define ROUND8(n) (n)

struct rec {
    uint64_t ts;                   /* ns since epoch */
    char     name[NAME_LEN];
    int32_t  slots[SLOTS][KEPT];
    uint8_t  pad[ROUND8(3)];
    uint16_t flags[FLAG(LONG_EXPR)];
} __attribute__((packed));

int rec_write(const struct rec *r) __THROW __nonnull((1));
static inline int rec_ok(const struct rec *r) { return r->ts != 0; }
extern const char *rec_names[];

#ifdef __cplusplus
}
#endif
#endif /* REC_H */
"""


def test_preprocessor_arithmetic_is_intmax() -> None:
    source = """
        #if 0xFFFFFFFF + 1 == 0 || !(-1 > 0U)
        #  error "32-bit arithmetic in #if"
        #endif
        #if (2 || 1 / 0) && !defined(NOPE) && NOPE == 0 && __has_include(<stdio.h>) == 0
        struct s { int ok; };
        #endif
    """
    assert parse_c(source).dtype.names == ("ok",)


@pytest.mark.parametrize(("byteorder", "first"), [("<", "lo"), (">", "hi")])
def test_byte_order_macros_follow_the_byteorder_argument(byteorder: str, first: str) -> None:
    source = """
        struct pair {
        #if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ && __BYTE_ORDER == __BIG_ENDIAN
            uint16_t hi, lo;
        #else
            uint16_t lo, hi;
        #endif
        #if __WORDSIZE == 64 && __SIZEOF_LONG__ == 8 && defined(__LP64__)
            long lp64;
        #endif
        };
    """
    assert parse_c(source, byteorder=byteorder).dtype.names == (
        first,
        "hilo".replace(first, ""),
        "lp64",
    )


def test_real_header_noise_is_handled(tmp_path: Path) -> None:
    # its "config.h" is read from include_dirs (a quoted include not found is an error)
    (tmp_path / "config.h").write_text("#ifndef CONFIG_H\n#define CONFIG_H 1\n#endif\n")
    dt = parse_c(REAL_HEADER, include_dirs=[tmp_path]).dtype
    assert dt.names == ("ts", "name", "slots", "pad", "flags")
    assert dt["slots"].shape == (5, 3)
    assert dt["pad"].shape == (3,)
    assert dt["flags"].shape == (3,)
    assert dt.itemsize == 8 + 16 + 60 + 3 + 6


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("3 + 4 * 2", 11),
        ("(3 + 4) * 2", 14),
        ("-7 / 2 + 10", 7),
        ("-7 % 3 + 10", 9),
        ("1 << 4", 16),
        ("0x10 | 0b11", 19),
        ("017", 15),
        ("~0U >> 28", 15),
        ("(unsigned char)300", 44),
        ("(int8_t)200 + 100", 44),
        ("'A' - '@'", 1),
        ("'\\n'", 10),
        ("sizeof(double) * 2", 16),
        ("sizeof(struct inner)", 12),
        ("_Alignof(int64_t)", 8),
        ("offsetof(struct inner, c)", 8),
        ("offsetof(struct inner, v[1])", 6),
        ("2 > 1 ? 5 : 6", 5),
        ("0 ? 1 / 0 : 4", 4),
        ("(1, 2)", 2),
        ("!0 + (3 == 3) + (2 != 2) + (1 && 0) + (0 || 7)", 3),
        ("10UL - 1", 9),
        ("1'000 / 100", 10),
        ("sizeof(long) + sizeof(void *)", 16),
        ("-(-5) + +1", 6),
        ("(5 ^ 3) & 0xff", 6),
        ("true + true", 2),
        ("((unsigned)-1) / 0x10000000", 15),
        ("(_Bool)5 + 1", 2),
        ("ARR_SIZE", 3),
    ],
)
def test_constant_expressions_as_array_sizes(expr: str, value: int) -> None:
    source = f"""
        struct inner {{ int32_t a; int16_t v[2]; char c; }};
        #define ARR_SIZE (sizeof(int[3]) / sizeof(int))
        struct s {{ char x[{expr}]; }};
    """
    assert parse_c(source, "s").dtype["x"] == np.dtype(f"S{value}")


def test_line_continuations_and_comments_keep_line_numbers() -> None:
    source = (
        "/* one\n   two */\n#define A \\\n  4\n// three\nstruct s {\n  int ok[A];\n  foo_t bad;\n};"
    )
    err = refusal(source)
    assert str(err).startswith("field 'bad' (line 8): unknown C type 'foo_t'")


def test_unknown_types_in_records_not_chosen_are_fine() -> None:
    source = "struct ok { int a; };\nstruct other { mystery_t m; };"
    assert parse_c(source, "ok").dtype.names == ("a",)


def test_static_assertions_in_the_source_are_checked() -> None:
    good = 'struct s { int64_t a; char b; };\n_Static_assert(sizeof(struct s) == 16, "size");'
    assert parse_c(good).dtype.itemsize == 16
    err = refusal(good.replace("16", "9"))
    assert str(err) == 'line 2: static assertion failed "size"'


def test_parse_c_result_is_cached_per_source_but_independent_per_call() -> None:
    source = "struct a { int x; }; struct b { double y; };"
    assert parse_c(source, "a").dtype.names == ("x",)
    assert parse_c(source, "b").dtype.names == ("y",)
    assert parse_c(source, "a", packed=True) == parse_c(source, "a")
    assert parse_c(source, "a", byteorder=">").dtype["x"].str == ">i4"
