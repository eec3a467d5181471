"""Stateful test of View.refresh/follow against a model of the file's bytes.

In the style of zarr's ``RuleBasedStateMachine`` tests: the model is the bytes
written. Rules append (any length, so partial records too), truncate (to zero,
mid-record, into the header, or up, which adds zeros), refresh, read (slices,
items, fields, ``batches``, ``follow``, ``columns``), keep arrays, and reopen.
What the model says recview must do:

- while the file never shrank below what the view holds, ``refresh()``
  returns the number of whole records in the model, and every read equals the
  model's whole records;
- after such a shrink, ``refresh()`` (and, once it has, every read) raises
  ``TruncatedError`` until the view is reopened, even after the file grew back;
- copies handed out (``mode="pread"``, ``follow``, ``columns``) never change.

A cut grown back past the view's end *before* any check is invisible to any
reader (see ``docs/changing_files.md``); the model does not append while a cut
is unseen, which is that documented limit. Nothing here reads pages a cut
took away (mmap reads wait for a ``refresh`` after a cut): the test process
never depends on the SIGBUS guard; ``tests/integration/test_torture.py`` does
that in child processes.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import recview as rv

DT = np.dtype([("a", "<u4"), ("b", "<u8")])  # 12 bytes: records straddle pages
R = DT.itemsize
HEADER = b"hdr:1234"


class RefreshMachine(RuleBasedStateMachine):
    mode = "mmap"

    @initialize(header=st.booleans(), records=st.integers(0, 40))
    def setup(self, header, records):
        self.dir = tempfile.mkdtemp(prefix="recview-stateful-")
        self.path = os.path.join(self.dir, "f.bin")
        self.offset = len(HEADER) if header else 0
        self.model = bytearray(HEADER[: self.offset] + os.urandom(records * R))
        with open(self.path, "wb") as f:
            f.write(self.model)
        self.view = None
        self.kept: list[tuple[np.ndarray, bytes]] = []  # copies and what they held
        self.kept_views: list[tuple[np.ndarray, int]] = []  # mmap arrays, first record
        self.open()

    def teardown(self):
        if getattr(self, "view", None) is not None:
            self.view.close()
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model -------------------------------------------------------------

    def whole(self) -> int:
        return max(0, (len(self.model) - self.offset) // R)

    def records(self, a: int, b: int) -> bytes:
        return bytes(self.model[self.offset + a * R : self.offset + b * R])

    def open(self):
        if self.view is not None:
            self.view.close()
            self.view = None
        if len(self.model) < self.offset:
            with pytest.raises(rv.LayoutError, match="shorter than the 8-byte header"):
                rv.open(self.path, DT, offset=self.offset, trailing="ignore", mode=self.mode)
            return
        self.view = rv.open(self.path, DT, offset=self.offset, trailing="ignore", mode=self.mode)
        self.count = self.whole()  # what the view holds
        self.cut_unseen = False  # shrunk below what the view holds, not refreshed since
        self.truncated = False  # refresh raised: the view is done

    def held_end(self) -> int:
        return self.offset + self.count * R

    # -- rules -----------------------------------------------------------------

    @precondition(lambda self: not (self.view is not None and self.cut_unseen))
    @rule(data=st.one_of(st.binary(max_size=R + 1), st.binary(min_size=R, max_size=8 * R)))
    def append(self, data):
        with open(self.path, "ab") as f:
            f.write(data)
        self.model += data

    @rule(data=st.data())
    def truncate(self, data):
        size = len(self.model)
        sizes = [
            st.just(0),
            st.integers(0, size),
            st.integers(max(0, size - 2 * R), size),  # near the end, mid-record
        ]
        if not (self.view is not None and self.cut_unseen):
            sizes.append(st.integers(size, size + 2 * R))  # up: zeros
        new = data.draw(st.one_of(sizes), label="new size")
        os.truncate(self.path, new)
        if new <= size:
            del self.model[new:]
        else:
            self.model += bytes(new - size)
        if self.view is not None and not self.truncated and new < self.held_end():
            self.cut_unseen = True
        # zero-copy arrays past the cut would read lost pages: never touched again
        self.kept_views = [
            (arr, a) for arr, a in self.kept_views if self.offset + (a + len(arr)) * R <= new
        ]

    @precondition(lambda self: self.view is not None)
    @rule()
    def refresh(self):
        if self.truncated or self.cut_unseen:
            with pytest.raises(rv.TruncatedError) as info:
                self.view.refresh()
            if self.cut_unseen:
                assert info.value.old_nbytes == self.held_end()
                assert info.value.new_nbytes == len(self.model)
            self.truncated, self.cut_unseen = True, False
            return
        before = self.count
        assert self.view.refresh() == self.whole()
        self.count = self.whole()
        # what the growth added reads right (in mmap mode through a new mapping)
        assert self.view[before:].tobytes() == self.records(before, self.count)

    @precondition(lambda self: self.view is not None and not self.cut_unseen)
    @rule(data=st.data())
    def read(self, data):
        view, n = self.view, self.count
        # often the whole view or its tail: the records a growth added
        a = data.draw(st.one_of(st.just(0), st.integers(0, n)), label="a")
        b = data.draw(st.one_of(st.just(n), st.integers(a, n)), label="b")
        how = data.draw(
            st.sampled_from(["slice", "item", "field", "array", "batches", "follow", "columns"]),
            label="how",
        )
        if self.truncated:
            calls = {
                "follow": lambda: next(view.follow(start=a, timeout=0)),
                "batches": lambda: next(view.batches(3, start=a)),
                "columns": view.columns,
                "field": lambda: view["a"],
                "item": lambda: view[a],
                "array": lambda: view.array,
                "slice": lambda: view[a:b],
            }
            with pytest.raises(rv.TruncatedError):
                calls[how]()
            return
        assert len(view) == n
        want = self.records(a, b)
        if how == "slice":
            got = view[a:b].tobytes()
        elif how == "item":
            got = b"".join(view[i].tobytes() for i in range(a, b))
        elif how == "field":
            got = np.rec.fromarrays([view["a"][a:b], view["b"][a:b]], dtype=DT).tobytes()
        elif how == "array":
            got = view.array[a:b].tobytes()
        elif how == "batches":
            got = b"".join(x.tobytes() for x in view.batches(3, start=a))
            want = self.records(a, n)
        elif how == "follow":
            batches = list(view.follow(start=a, poll=0.001, timeout=0, records=5))
            got = b"".join(x.tobytes() for x in batches)
            # follow refreshes: it delivers what the file holds now
            self.count = self.whole()
            want = self.records(a, self.count)
            self.kept.extend((x, x.tobytes()) for x in batches)
        else:
            cols = view.columns()
            got = np.rec.fromarrays([cols["a"], cols["b"]], dtype=DT).tobytes()
            want = self.records(0, n)
        assert got == want

    @precondition(lambda self: self.view is not None and not self.cut_unseen and not self.truncated)
    @rule(data=st.data())
    def keep(self, data):
        a = data.draw(st.integers(0, self.count), label="a")
        arr = self.view[a:]
        if self.mode == "pread":
            self.kept.append((arr, arr.tobytes()))
        else:
            self.kept_views.append((arr, a))

    @rule()
    def reopen(self):
        self.open()

    # -- invariants --------------------------------------------------------------

    @invariant()
    def copies_never_change(self):
        for arr, raw in self.kept:
            assert arr.tobytes() == raw

    @invariant()
    def zero_copy_arrays_show_the_file(self):
        for arr, a in self.kept_views:
            assert arr.tobytes() == self.records(a, a + len(arr))

    @invariant()
    def length_is_what_the_view_holds(self):
        if getattr(self, "view", None) is not None:
            assert len(self.view) == self.count


class PreadRefreshMachine(RefreshMachine):
    mode = "pread"


_settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
TestRefreshMmap = RefreshMachine.TestCase
TestRefreshMmap.settings = _settings
TestRefreshPread = PreadRefreshMachine.TestCase
TestRefreshPread.settings = _settings
