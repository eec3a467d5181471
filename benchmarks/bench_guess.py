"""The ``recview guess`` corpus: generated dumps of known layout, and the rates.

Each dump is written by numpy itself (``tofile``, ``np.save``), with and
without headers, in both byte orders, with char fields, plus wtmp records, FITS
binary-table rows and a ``.npy`` body. For each, :func:`guess_bytes` must find
the record size, the header size, the field boundaries and the field kinds::

    python benchmarks/bench_guess.py            # the rates, then one line per miss
    python benchmarks/bench_guess.py --verbose  # one line per dump

Field boundaries match when the guessed fields start at exactly the offsets
where the true fields start (padding excluded); types agree when each true
field's guessed counterpart at the same offset has its kind (float, signed or
unsigned integer, text) and width. Also tried: files that are no records at
all (an ELF binary, text, compressed bytes), which must be refused.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from recview.cli._guess import Guess, guess_bytes
from recview.errors import LayoutError

N = 20_000


@dataclass
class Case:
    name: str
    data: bytes
    dtype: np.dtype[Any]
    header: int


def _leaves(dt: np.dtype[Any], base: int = 0) -> Iterator[tuple[int, np.dtype[Any]]]:
    assert dt.names is not None
    for name in dt.names:
        fdt, off = dt.fields[name][:2]
        if fdt.names is not None:
            yield from _leaves(fdt, base + off)
        elif fdt.subdtype is not None and fdt.subdtype[0].kind != "S":
            sub, shape = fdt.subdtype
            for k in range(int(np.prod(shape))):
                yield base + off + k * sub.itemsize, sub
        elif fdt.kind != "V":
            yield base + off, fdt


def _fill(a: np.ndarray, rng: np.random.Generator) -> None:
    """Values as dumps hold them: counters, clocks, prices, small ints, names."""
    n = len(a)
    assert a.dtype.names is not None
    for k, name in enumerate(a.dtype.names):
        fdt = a.dtype.fields[name][0]
        col = a[name]
        kind = fdt.base.kind
        if kind == "f":
            style = k % 4
            if style == 0 and fdt.itemsize == 8:
                v = 1.7e9 + np.cumsum(rng.exponential(0.3, n))  # epoch seconds
            elif style == 1:
                v = np.arange(n) * 1e-3
            elif style == 2:
                v = 100 + np.cumsum(rng.normal(0, 0.05, n))
            else:
                v = rng.normal(0, 1, n)
            col[...] = v.reshape((n,) + (1,) * (col.ndim - 1)) if col.ndim > 1 else v
        elif kind in "iu":
            bits = fdt.base.itemsize * 8
            if k == 0:
                v = np.arange(n) + 1000
            elif kind == "i":
                v = rng.integers(-(2 ** min(bits - 2, 20)), 2 ** min(bits - 2, 20), n)
            else:
                v = rng.integers(0, 2 ** min(bits - 1, 20), n)
            col[...] = v.reshape((n,) + (1,) * (col.ndim - 1)) if col.ndim > 1 else v
        elif kind == "S":
            words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta"]
            col[...] = rng.choice(words, n)


def corpus() -> list[Case]:
    rng = np.random.default_rng(20251203)
    specs: list[tuple[str, Any]] = [
        ("f8", [("t", "<f8")]),
        ("f8 ramp", [("v", "<f8"), ("w", "<f8")]),
        ("t f8 v f4 i i4", [("t", "<f8"), ("v", "<f4"), ("i", "<i4")]),
        ("i8 f8", [("a", "<i8"), ("x", "<f8")]),
        ("u8 counter f8", [("n", "<u8"), ("x", "<f8")]),
        ("i4 f4", [("a", "<i4"), ("x", "<f4")]),
        ("u4 f8 S4", [("seq", "<u4"), ("v", "<f8"), ("tag", "S4")]),
        (
            "trade",
            [
                ("ts", "<u8"),
                ("px", "<f8"),
                ("qty", "<u4"),
                ("side", "u1"),
                ("pad", "V3"),
                ("venue", "S8"),
            ],
        ),
        (
            "sensor",
            [
                ("ts", "<u8"),
                ("id", "<u2"),
                ("st", "u1"),
                ("pad", "V1"),
                ("t", "<f4"),
                ("p", "<f4"),
                ("h", "<f4"),
            ],
        ),
        ("i2 pairs", [("a", "<i2"), ("b", "<i2"), ("x", "<f4")]),
        ("f4 f4 f4", [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("k", "<u4")]),
        ("name + value", [("name", "S12"), ("v", "<f8"), ("n", "<i4"), ("pad", "V4")]),
        ("two names", [("id", "<u4"), ("first", "S16"), ("last", "S12"), ("score", "<f4")]),
        ("i8 i8 f8", [("a", "<i8"), ("b", "<i8"), ("c", "<f8")]),
        ("f8 x4", [("a", "<f8"), ("b", "<f8"), ("c", "<f8"), ("d", "<f8")]),
        ("u2 u2 u4 f8", [("a", "<u2"), ("b", "<u2"), ("c", "<u4"), ("d", "<f8")]),
        ("wide 64", [("ts", "<u8"), *[(f"v{k}", "<f4") for k in range(12)], ("n", "<i8")]),
        ("i4 array", [("id", "<u4"), ("v", "<i4", (3,))]),
    ]
    cases: list[Case] = []
    for name, spec in specs:
        dt = np.dtype(spec)
        a = np.zeros(N, dt)
        _fill(a, rng)
        cases.append(Case(name, a.tobytes(), dt, 0))
        if name in ("t f8 v f4 i i4", "trade", "sensor", "u4 f8 S4", "i8 f8", "two names"):
            big = a.astype(dt.newbyteorder(">"))
            cases.append(Case(name + " >", big.tobytes(), big.dtype, 0))
        if name in ("trade", "sensor", "f8 x4", "i4 f4", "name + value"):
            hdr = b"DUMP" + np.array([3, dt.itemsize, N], "<u4").tobytes()
            hdr += bytes(64 - len(hdr))
            cases.append(Case(name + " +64B header", hdr + a.tobytes(), dt, 64))
    # a .npy file (np.save: its own header)
    dt = np.dtype([("ts", "<u8"), ("px", "<f8"), ("q", "<i4"), ("pad", "V4")])
    a = np.zeros(N, dt)
    _fill(a, rng)
    buf = io.BytesIO()
    np.save(buf, a)
    data = buf.getvalue()
    cases.append(Case(".npy body", data, dt, len(data) - a.nbytes))
    # wtmp records (glibc struct utmp on x86-64, 384 bytes)
    ut = np.dtype([("type", "<i2"), ("pad", "V2"), ("pid", "<i4"), ("line", "S32"), ("id", "S4"),
                   ("user", "S32"), ("host", "S256"), ("term", "<i2"), ("exit", "<i2"),
                   ("session", "<i4"), ("sec", "<i4"), ("usec", "<i4"), ("addr", "<i4", (4,)),
                   ("unused", "V20")])  # fmt: skip
    w = np.zeros(4000, ut)
    w["type"] = rng.choice([7, 8, 7, 7, 2, 1], len(w))
    w["pid"] = rng.integers(300, 60000, len(w))
    w["line"] = rng.choice([b"pts/0", b"pts/1", b"pts/12", b"tty1", b"~"], len(w))
    w["id"] = rng.choice([b"ts/0", b"ts/1", b"tty1", b"~~"], len(w))
    w["user"] = rng.choice([b"root", b"alice", b"bob", b"reboot", b"deploy"], len(w))
    w["host"] = rng.choice([b"10.0.0.7", b"6.1.0-13-amd64", b"laptop.example.org", b""], len(w))
    w["sec"] = 1_700_000_000 + np.cumsum(rng.integers(1, 600, len(w)))
    w["usec"] = rng.integers(0, 1_000_000, len(w))
    w["addr"][:, 0] = rng.integers(0, 2**31, len(w))
    cases.append(Case("wtmp", w.tobytes(), ut, 0))
    # FITS binary-table rows: big-endian, after a 2880-byte header block
    ft = np.dtype([("TIME", ">f8"), ("RA", ">f8"), ("DEC", ">f8"), ("FLUX", ">f4"),
                   ("FLAG", ">i2"), ("NAME", "S10")])  # fmt: skip
    f = np.zeros(N, ft)
    _fill(f, rng)
    f["RA"] = rng.uniform(0, 360, N)
    f["DEC"] = rng.uniform(-90, 90, N)
    hdr = b"".join(
        card.ljust(80).encode()
        for card in ["SIMPLE  =                    T", "XTENSION= 'BINTABLE'", "END"]
    ).ljust(2880)
    cases.append(Case("FITS rows", hdr + f.tobytes(), ft, 2880))
    return cases


def not_records() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(7)
    out = []
    with open(sys.executable, "rb") as fh:
        out.append(("ELF binary (python)", fh.read(4 << 20)))
    text = " ".join(rng.choice(["the", "record", "file", "of", "bytes", "a", "guess"], 200_000))
    out.append(("English-like text", text.encode()))
    out.append(("gzip data", gzip.compress(rng.integers(0, 50, 1 << 20).astype("u1").tobytes())))
    out.append(("random bytes", rng.integers(0, 256, 1 << 20).astype("u1").tobytes()))
    return out


_KIND = {"float": "f", "counter": "u", "text": "S", "constant": "u"}


def _kind(g: Guess, offset: int) -> str | None:
    for f in g.fields:
        if f.offset == offset:
            k = {"u": "i"}.get(f.dtype.kind, f.dtype.kind)  # signedness is not judged
            return f"{k}{f.dtype.itemsize}"
    return None


def evaluate(case: Case) -> dict[str, Any]:
    try:
        g = guess_bytes(case.data)
    except LayoutError as err:
        return {"size": False, "header": False, "bounds": False, "types": 0.0, "miss": str(err)}
    truth = list(_leaves(case.dtype))
    size = g.itemsize == case.dtype.itemsize
    header = g.header_nbytes == case.header
    bounds = size and [o for o, _ in truth] == [f.offset for f in g.fields if f.kind != "constant"]
    agree = 0
    for off, dt in truth:
        want = f"{ {'u': 'i'}.get(dt.kind, dt.kind) }{dt.itemsize}"
        got = _kind(g, off) if size else None
        agree += got == want or (dt.kind == "S" and got is not None and got.startswith("S"))
    return {"size": size, "header": header, "bounds": bounds, "types": agree / len(truth),
            "guess": g}  # fmt: skip


def _refusal(data: bytes) -> str | None:
    try:
        g = guess_bytes(data)
    except LayoutError as err:
        return str(err)
    print(f"  guessed record size {g.itemsize}, score {g.score:.3f}")
    return None


def main(argv: list[str]) -> int:
    verbose = "--verbose" in argv
    cases = corpus()
    results = [(c, evaluate(c)) for c in cases]
    n = len(results)

    def rate(key: str) -> float:
        return sum(r[key] for _, r in results) / n

    print(f"guess corpus: {n} dumps")
    print(f"  record size exact   {rate('size'):6.1%}")
    print(f"  header size exact   {rate('header'):6.1%}")
    print(f"  field boundaries    {rate('bounds'):6.1%}")
    print(f"  type agreement      {rate('types'):6.1%}")
    refused = 0
    for name, data in not_records():
        message = _refusal(data)
        refused += message is not None
        if message is None or verbose:
            print(f"  {'refused' if message else 'NOT REFUSED'}: {name}: {message}")
    print(f"  non-record files refused {refused}/{len(not_records())}")
    for c, r in results:
        ok = r["size"] and r["header"] and r["bounds"] and r["types"] == 1.0
        if verbose or not ok:
            g = r.get("guess")
            got = (f"size {g.itemsize} header {g.header_nbytes} score {g.score:.2f} "
                   + " ".join(f"{f.offset}:{f.dtype.str}" for f in g.fields[:16])) if g else r["miss"]  # fmt: skip
            print(
                f"  {'ok  ' if ok else 'MISS'} {c.name:<22} true {c.dtype.itemsize}+{c.header}: {got}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
