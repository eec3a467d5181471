"""rv.bits storage units and recview._bits.extract, against Python's own integers.

The oracle is ``int.from_bytes`` over the storage bytes, then ``>>`` and ``&``
and a sign extension written out in Python: no numpy, no recview.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, strategies as st

import recview as rv
from recview._bits import extract, value_dtype


def oracle(raw: bytes, order: str, lsb: int, width: int, signed: bool) -> int:
    value = int.from_bytes(raw, "big" if order == ">" else "little")
    v = (value >> lsb) & ((1 << width) - 1)
    if signed and v >> (width - 1):
        v -= 1 << width
    return v


@st.composite
def storage_cases(draw: st.DrawFn) -> tuple[int, str, int, int, bool]:
    nbytes = draw(st.integers(1, 9))
    order = draw(st.sampled_from("<>"))
    width = draw(st.integers(1, min(64, 8 * nbytes)))
    lsb = draw(st.integers(0, 8 * nbytes - width))
    return nbytes, order, lsb, width, draw(st.booleans())


@given(storage_cases(), st.binary(min_size=9 * 6, max_size=9 * 6), st.integers(0, 3))
def test_extract_matches_python_integers(
    case: tuple[int, str, int, int, bool], noise: bytes, pad: int
) -> None:
    nbytes, order, lsb, width, signed = case
    if nbytes in (1, 2, 4, 8):
        sdt = np.dtype(f"{order if nbytes > 1 else '|'}u{nbytes}")
    else:
        sdt = np.dtype(f"V{nbytes}")
    # the storage inside a record with other bytes around it: a strided array
    rec = np.dtype(
        {"names": ["s"], "formats": [sdt], "offsets": [pad], "itemsize": pad + nbytes + 1}
    )
    n = len(noise) // rec.itemsize
    arr = np.frombuffer(noise[: n * rec.itemsize], dtype=rec)
    got = extract(arr["s"], sdt, order, lsb, width, signed)
    assert got.dtype == value_dtype(width, signed)
    assert not got.flags.writeable
    step = rec.itemsize
    want = [
        oracle(noise[i * step + pad : i * step + pad + nbytes], order, lsb, width, signed)
        for i in range(n)
    ]
    assert [int(x) for x in got] == want


@pytest.mark.parametrize(
    ("width", "signed", "dtype"),
    [
        (1, False, "u1"),
        (8, False, "u1"),
        (8, True, "i1"),
        (9, False, "u2"),
        (17, True, "i4"),
        (32, False, "u4"),
        (33, False, "u8"),
        (64, True, "i8"),
    ],
)
def test_value_dtype_is_the_smallest_holding_the_width(
    width: int, signed: bool, dtype: str
) -> None:
    assert value_dtype(width, signed) == np.dtype(dtype)


class Tcp(rv.Record):
    port: rv.u16be
    flags: rv.bits(rv.u16be, fin=1, syn=1, rst=1, psh=1, ack=1, urg=1, _=6, off=4)
    level: rv.bits(rv.i8, lo=3, hi=5)


def test_bits_fields_are_leaves_numbered_from_the_values_lsb() -> None:
    got = [
        (f.path, f.offset, f.bit_offset, f.bit_width, f.signed, f.storage, f.bit_order)
        for f in Tcp.schema.fields()
    ]
    assert got == [
        ("port", 0, None, None, False, None, None),
        ("flags.fin", 2, 0, 1, False, "flags", ">"),
        ("flags.syn", 2, 1, 1, False, "flags", ">"),
        ("flags.rst", 2, 2, 1, False, "flags", ">"),
        ("flags.psh", 2, 3, 1, False, "flags", ">"),
        ("flags.ack", 2, 4, 1, False, "flags", ">"),
        ("flags.urg", 2, 5, 1, False, "flags", ">"),
        ("flags.off", 2, 12, 4, False, "flags", ">"),
        ("level.lo", 4, 0, 3, True, "level", "<"),
        ("level.hi", 4, 3, 5, True, "level", "<"),
    ]
    assert Tcp.schema.itemsize == 5


def test_bits_values_from_a_view_batch_and_record(tmp_path: Any) -> None:
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, 5 * 50, dtype=np.uint8).tobytes()
    path = tmp_path / "tcp.bin"
    path.write_bytes(raw)
    with rv.open(path, Tcp.schema) as view:
        for f in Tcp.schema.fields():
            if not f.is_bitfield:
                continue
            assert f.bit_order is not None
            assert f.bit_offset is not None
            assert f.bit_width is not None
            want = [
                oracle(
                    raw[i * 5 + f.offset : i * 5 + f.offset + f.dtype.itemsize],
                    f.bit_order,
                    f.bit_offset,
                    f.bit_width,
                    f.signed,
                )
                for i in range(50)
            ]
            got = Tcp.schema.get(view.array, f.path)
            assert got.dtype == f.value_dtype
            assert not got.flags.writeable
            assert got.tolist() == want
            assert Tcp.schema.get(view.array[7::3], f.path).tolist() == want[7::3]
            assert int(Tcp.schema.get(view.array[4], f.path)) == want[4]


def test_bits_in_an_array_of_records_have_the_arrays_shape() -> None:
    class Leg(rv.Record):
        px: rv.u32
        st: rv.bits(rv.u8, ok=1, code=7)

    class Rec(rv.Record):
        legs: rv.array(Leg, 3)

    raw = bytes(range(15)) * 2
    arr = np.frombuffer(raw, dtype=Rec.schema.dtype)
    code = Rec.schema.get(arr, "legs.st.code")
    assert code.shape == (2, 3)
    assert code.tolist() == [[raw[5 * k + 4] >> 1 for k in range(3)]] * 2
    leaf = Rec.schema.field("legs.st.ok")
    assert leaf.element_offsets() == [4, 9, 14]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rv.bits(rv.u8, a=9), r"bits 0\.\.8 do not fit the 8-bit storage"),
        (lambda: rv.bits(rv.u16, a=8, b=9), r"widths add up to 17 bits"),
        (lambda: rv.bits(rv.u8, a=0), "width must be a positive integer"),
        (lambda: rv.bits(rv.u8, a=True), "width must be a positive integer"),
        (lambda: rv.bits(rv.f4, a=1), "storage must be an integer type"),
        (lambda: rv.bits(rv.u8, _=8), "no named bitfields"),
    ],
)
def test_bad_bits_are_schema_errors(call: Any, message: str) -> None:
    with pytest.raises(rv.SchemaError, match=message):
        call()


def test_array_of_bits_is_refused_with_a_hint() -> None:
    with pytest.raises(rv.SchemaError, match="nest a Record"):
        rv.array(rv.bits(rv.u8, a=1), 3)


@given(storage_cases())
def test_bit_bytes_are_the_bytes_the_bits_live_in(case: tuple[int, str, int, int, bool]) -> None:
    nbytes, order, lsb, width, signed = case
    if nbytes not in (1, 2, 4, 8):
        return
    sdt = np.dtype(f"{order if nbytes > 1 else '|'}{'i' if signed else 'u'}{nbytes}")

    class R(rv.Record):
        pre: rv.u8
        u: rv.bits(sdt, **({"_": lsb} if lsb else {}), f=width)

    leaf = R.schema.field("u.f")
    ones = ((1 << width) - 1) << lsb
    raw = bytes(1) + ones.to_bytes(nbytes, "big" if order == ">" else "little")
    touched = [i for i, b in enumerate(raw) if b]
    assert leaf.bit_bytes == (touched[0], touched[-1] + 1)
    assert R.schema.field("pre").bit_bytes is None
