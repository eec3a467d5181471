"""Fixtures of the unit tests: ``mode``, each local reader in turn."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["mmap", "pread"])
def mode(request: pytest.FixtureRequest) -> str:
    """``"mmap"``, then ``"pread"``: a test taking it runs once per way of reading a file."""
    return str(request.param)
