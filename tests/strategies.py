"""Hypothesis strategies for recview's own property tests.

They live in :mod:`recview.testing` (public, so users property-test their own
schemas with the same tools) and are re-exported here, where the tests look for
them, as attrs keeps its strategies in ``tests/strategies.py``.
"""

from __future__ import annotations

from recview import testing as _testing
from recview.testing import *  # the whole public surface, nothing more

__all__ = list(_testing.__all__)
