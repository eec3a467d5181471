"""Torture: a writer truncates and regrows a file under a reader using recview.

Runs ``benchmarks/stress_torture.py`` (see its docstring for the writer, the
reader and the protocol) with a short duration, all variants at the same time
in child processes: mmap in the main thread; ``faulthandler`` enabled before
``rv.open`` with the reads in a worker thread; ``faulthandler`` enabled after
``rv.open`` (re-enabled after every open), in the main thread and in a worker
thread; ``mode="pread"``; and the unsynchronised ``chaos`` writer.

What must hold in every variant: the reader is not killed by a signal and
exits 0; no exception other than ``TruncatedError``, ``LayoutError`` (at
open) and the deliberately provoked ``ClosedError``. With the ``sync`` writer
(which keeps a cut visible until a reader check that began after it has ended)
no corrupt, changed or out-of-order record survives the copy-then-refresh
protocol. The chaos writer can swap records behind the reader's back between
two checks, which no reader can see: there only deaths and unexpected
exceptions are asserted (``docs/changing_files.md`` gives the limit).

``python benchmarks/stress_torture.py --seconds 60`` is the long run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SECONDS = 6
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stress_torture.py"
VARIANTS = ["plain", "fh-before-thread", "fh-after", "fh-after-thread", "pread", "chaos"]
SYNC = [v for v in VARIANTS if not v.startswith("chaos")]
MMAP = [v for v in VARIANTS if "pread" not in v]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("torture") / "results.json"
    args = ["--seconds", str(SECONDS), "--variants", ",".join(VARIANTS), "--parallel"]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=SECONDS + 240,
        check=False,
        env={**os.environ, "PYTHONFAULTHANDLER": ""},
    )
    print(proc.stdout)
    assert out.exists(), (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    with open(out) as f:
        return {r["variant"]: r for r in json.load(f)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_reader_is_never_killed_and_raises_only_expected_errors(results, variant):
    r = results[variant]
    assert r["reader_rc"] != -signal.SIGBUS, r.get("reader_stderr")
    assert r["reader_rc"] == 0, r.get("reader_stderr")
    assert r["death_by_signal"] == 0
    assert r["writer_rc"] == 0, r.get("writer_stderr")
    reader = r["reader"]
    assert reader["unexpected"] == {}, reader["first_unexpected"]
    # it did the work: API calls, cuts under it, records checked
    assert reader["ops"] >= 200
    assert r["writer"]["cuts"] >= 5
    assert reader["truncations_seen"] >= 1
    assert reader["verified_records"] > 0
    assert reader["opens"] >= 2
    assert set(reader) >= {f"op_{k}" for k in ("item", "slice", "batches", "follow", "columns")}


@pytest.mark.parametrize("variant", SYNC)
def test_no_corrupt_record_survives_the_copy_then_refresh_protocol(results, variant):
    reader = results[variant]["reader"]
    assert results[variant]["writer"].get("wait_gave_up", 0) == 0
    assert (reader["corrupt"], reader["changed"], reader["disorder"]) == (0, 0, 0)


def test_the_guard_repaired_faults_in_mmap_variants_and_none_in_pread(results):
    assert all(results[v]["reader"]["guarded"] for v in VARIANTS)
    # reads of lost pages happened (kept arrays are touched after every cut)
    assert sum(results[v]["reader"]["guard_repairs"] for v in MMAP) > 0
    assert results["pread"]["reader"]["guard_repairs"] == 0
