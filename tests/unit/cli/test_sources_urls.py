"""URLs of the local filesystem are local files: the own-input check sees through them."""

from __future__ import annotations

import numpy as np
import pytest

from recview.cli import main


@pytest.mark.parametrize("form", ["file://{p}", "local://{p}"])
def test_convert_of_a_file_url_onto_itself_is_refused(tmp_path, capsys, form):
    path = tmp_path / "u.bin"
    np.arange(5, dtype="<u8").tofile(path)
    before = path.read_bytes()
    url = form.format(p=path)
    assert main(["convert", url, "-s", "<u8", "-o", str(path), "--to", "csv", "-q"]) == 2
    assert "converting would destroy it" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_convert_of_a_file_url_to_another_file_works(tmp_path, capsys):
    path = tmp_path / "u.bin"
    np.arange(5, dtype="<u8").tofile(path)
    out = tmp_path / "u.csv"
    assert main(["convert", path.as_uri(), "-s", "<u8", "-o", str(out), "-q"]) == 0
    assert out.read_text().split() == ["f0", "0", "1", "2", "3", "4"]
