"""Arguments that were taken the wrong way: a bare string of column names read
letter by letter, non-finite follow() timings, and a closed remote view that
still pickled."""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import recview as rv
from tests.remote_servers import RangeServer


@pytest.mark.parametrize(
    "call", ["columns", "to_arrow", "to_pandas", "to_polars", "to_arrow_reader"]
)
def test_a_string_of_names_is_one_name_not_its_letters(tmp_path: Path, call: str) -> None:
    pytest.importorskip("pyarrow")
    if call == "to_pandas":
        pytest.importorskip("pandas")
    if call == "to_polars":
        pytest.importorskip("polars")
    dt = np.dtype([("ab", "<u4"), ("a", "<u2"), ("b", "u1")])
    p = tmp_path / "n.bin"
    data = np.zeros(3, dt)
    data["ab"] = [7, 8, 9]
    data.tofile(p)
    with rv.open(p, dt) as view:
        out: Any = view.columns("ab") if call == "columns" else getattr(view, call)(columns="ab")
        if call == "columns":
            names, values = list(out), out["ab"].tolist()
        elif call == "to_arrow_reader":
            table = out.read_all()
            names, values = table.column_names, table["ab"].to_pylist()
        elif call == "to_arrow":
            names, values = out.column_names, out["ab"].to_pylist()
        else:
            names, values = list(out.columns), list(out["ab"])
    assert names == ["ab"]
    assert values == [7, 8, 9]


@pytest.mark.parametrize("kw", [{"poll": math.nan}, {"poll": math.inf}, {"timeout": math.nan}])
def test_follow_refuses_non_finite_poll_and_nan_timeout(
    tmp_path: Path, kw: dict[str, float]
) -> None:
    p = tmp_path / "f.bin"
    np.arange(5, dtype="<u4").tofile(p)
    with rv.open(p, "<u4") as view, pytest.raises(ValueError, match="poll|timeout"):
        view.follow(start=5, **kw)


def test_follow_with_an_infinite_timeout_is_still_allowed(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    np.arange(5, dtype="<u4").tofile(p)
    with rv.open(p, "<u4") as view:
        it = view.follow(start=0, timeout=math.inf)
        assert next(it)["f0"].tolist() == [0, 1, 2, 3, 4]


def test_pickling_a_closed_remote_view_is_a_closed_error() -> None:
    with RangeServer() as srv:
        srv.objects["a.bin"] = np.arange(10, dtype="<u8").tobytes()
        view = rv.open(srv.url("a.bin"), "<u8")
        assert pickle.loads(pickle.dumps(view)).array["f0"].tolist() == list(range(10))
        view.close()
        with pytest.raises(rv.ClosedError):
            pickle.dumps(view)
