"""The ``--help`` pages: what each command does, and examples on the shipped samples.

Every example is a whole command line, run from the repository root (where
``samples/`` is); a test runs each of them against the samples and checks
that it exits 0, so they stay true.
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "HelpFormatter"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written (their lines are laid out by hand)."""


def _page(about: str, examples: str) -> tuple[str, list[str]]:
    return about.strip(), [line.strip() for line in examples.strip().splitlines()]


#: command -> (what it does, after the one-line summary; example command lines)
HELP: dict[str, tuple[str, list[str]]] = {
    "info": _page(
        """
The file's size, the header, the record size and count, any stray bytes
at the end, and the schema as a table of offsets, sizes and types: the
first thing to run on a dump, to see whether a schema fits it.
""",
        """
recview info samples/trades.bin -s samples/trades.json
recview info samples/sensor.bin -s samples/sensor.json --offset 64
recview info samples/particles.bin -s samples/particle.h:particle --format json
""",
    ),
    "head": _page(
        """
The first -n records, one row each, as a table, CSV, JSON lines or a
JSON array; nested fields are dotted columns (pos.x), array fields one
column per element.
""",
        """
recview head samples/trades.bin -s samples/trades.json -n 5
recview head samples/trades.bin -s samples.schemas:Trade --format csv --fields ts,price
""",
    ),
    "tail": _page(
        """
The last -n records, as head prints them. On a file this reads only the
end; standard input is read through, keeping the last records.
""",
        """
recview tail samples/sensor.bin -s samples.schemas:Sensor --offset 64 -n 3
recview tail samples/trades.bin -s samples/trades.json -n 2 --format jsonl
""",
    ),
    "slice": _page(
        """
Records A..B (Python slice syntax: a step, negative indices from the
end), as head prints them.
""",
        """
recview slice samples/trades.bin -s samples/trades.json --rows 100:105
recview slice samples/particles.bin -s samples/particle.h:particle --rows 0:10:3
recview slice samples/trades.bin -s samples/trades.json --rows=-3:
""",
    ),
    "inspect": _page(
        """
Record N and its neighbours as hex and ASCII, field by field, with each
field's offset, type and value; bytes no field covers are shown as
padding and flagged when they are not zero. To check a schema: when it
is off, the values stop making sense. (dump shows any byte range.)
""",
        """
recview inspect samples/sensor.bin -s samples/sensor.json --offset 64 --record 1
recview inspect samples/trades.bin -s samples/trades.json --record -1 --context 0
""",
    ),
    "convert": _page(
        """
Write the records to CSV, JSON lines, .npy or Parquet (from the output's
suffix, or --to), in batches of --batch-nbytes: memory stays near one
batch. The output appears only when the conversion has succeeded.
""",
        """
recview convert samples/trades.bin -s samples/trades.json -o trades.parquet
recview convert samples/sensor.bin -s samples/sensor.json --offset 64 -o sensor.csv
recview convert samples/trades.bin -s samples/trades.json -o - --to jsonl --fields ts,price
""",
    ),
    "stats": _page(
        """
For each numeric field: count, min, max and mean (NaN counted apart), in
one bounded scan; then the run's figures (time, throughput, peak RSS,
page faults, bytes mapped).
""",
        """
recview stats samples/trades.bin -s samples/trades.json
recview stats samples/sensor.bin -s samples/sensor.json --offset 64 --fields temperature,humidity --batch-nbytes 4K
""",
    ),
    "guess": _page(
        """
For a dump nobody described: the record size, the header size and a
starting JSON schema, from the bytes that repeat from record to record.
The schema goes to standard output, the analysis to standard error.
""",
        """
recview guess samples/sensor.bin
recview guess samples/trades.bin -o trades-guess.json
""",
    ),
    "plot": _page(
        """
A histogram or a series of one numeric field, drawn to an image from
one bounded scan (needs matplotlib: pip install 'recview[plot]').
""",
        """
recview plot samples/sensor.bin -s samples/sensor.json --offset 64 --field temperature -o temperature.png
recview plot samples/trades.bin -s samples/trades.json --field price --kind series -o price.png
""",
    ),
    "sql": _page(
        """
DuckDB SQL over the records, streamed: the file is table t, and each
--table NAME=FILE:SCHEMA adds one more. Columns are the schema's fields
(quote nested ones: "pos.x"); only the columns the query reads are
decoded. Needs pip install 'recview[sql]'.
""",
        """
recview sql samples/trades.bin -s samples/trades.json "select side, count(*), avg(price) from t group by side"
recview sql samples/trades.bin -s samples/trades.json --format csv "select ts, price from t where price > 149 order by ts"
recview sql samples/trades.bin -s samples/trades.json --table p=samples/particles.bin:samples/particle.h:particle "select count(*) from t join p on t.qty = p.id"
""",
    ),
    "dump": _page(
        """
Any byte range of any file as hex and ASCII, 16 bytes a line, as xxd
prints it: a header, a file smaller than a record, the bytes between
two regions. With -s, the records from --records-at on are annotated
field by field (as inspect does) and the bytes around them labelled.
Offsets and lengths take suffixes (64K, 1MiB, 0x40); a negative
--offset counts from the end. Reads only the range: as fast at 100 GB
as at 0.
""",
        """
recview dump samples/sensor.bin --length 64
recview dump samples/sensor.bin -s samples/sensor.json --records-at 64 --offset 48 --length 64
recview dump samples/trades.bin --offset -32 --length 32
""",
    ),
}
