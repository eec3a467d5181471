"""Shared test configuration: hypothesis profiles and a directory for property tests.

Profiles (select with ``HYPOTHESIS_PROFILE=name``; ``ci`` is the default):

- ``ci``: modest ``max_examples``, no deadline (the machine is shared and
  noisy), derandomized and without an example database, so a run is the same
  run every time: CI never flakes, and nothing is written into the repo.
- ``dev``: hypothesis's usual 100 random examples, with the database.
- ``thorough``: 1000 examples, for a long soak before a release.

Tests that pin ``max_examples`` in their own ``@settings`` keep it; the
profile fills in everything they leave out.

The remote tests' servers are fixtures of ``tests/remote_servers.py``,
imported here so that every module can name them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The local HTTP and S3 servers' fixtures, for every test module that names them.
from tests.remote_servers import http_server, local_env, s3_server  # noqa: F401

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def hyp_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide directory for tests under ``@given``.

    Function-scoped ``tmp_path`` is shared by every example of a hypothesis
    test (hypothesis warns about it); helpers such as
    :func:`recview.testing.check_roundtrip` instead make, and delete, a fresh
    file per example in this directory.
    """
    return tmp_path_factory.mktemp("hypothesis")
