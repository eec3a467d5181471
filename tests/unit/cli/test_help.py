"""The ``--help`` pages teach: each command's opens with what it does, lists its
own options before the common ones and ends with examples on the shipped
samples, and every one of those examples runs."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from recview.cli import _build_parser, main

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 120


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = _commands()


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def examples_of(text: str) -> list[str]:
    """The command lines of the help's last section, "Examples:"."""
    _, sep, tail = text.partition("\nExamples:\n")
    if not sep:
        return []
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    assert all(line.startswith("recview ") for line in lines), lines
    return lines


def test_every_command_has_a_help_page() -> None:
    from recview.cli._help import HELP

    assert sorted(set(COMMANDS) - set(HELP)) == [], "add their pages to recview/cli/_help.py"
    assert sorted(set(HELP) - set(COMMANDS)) == []


def test_every_command_is_covered() -> None:
    assert set(COMMANDS) >= {
        "info", "head", "tail", "slice", "inspect", "convert", "stats", "guess", "plot",
        "sql", "dump",
    }  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_opens_with_what_it_does_and_ends_with_examples(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = help_of(capsys, command)
    # usage, then the summary line (a sentence) and a paragraph about it
    after_usage = text.split("\n\n", 1)[1]
    summary, about = after_usage.split("\n\n", 2)[:2]
    assert summary.endswith(".") and summary[0].isupper(), summary
    assert len(about.split()) >= 10, about
    sections = re.findall(r"^(\S[^\n]*):$", text, re.MULTILINE)
    assert sections[-1] == "Examples"
    assert len(examples_of(text)) >= 2
    for line in examples_of(text):
        assert line.split()[1] == command
        assert "samples/" in line


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_own_options_come_before_the_common_ones(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    text = help_of(capsys, command)
    sections = re.findall(r"^(\S[^\n]*):$", text, re.MULTILINE)
    assert sections.index("common options") == len(sections) - 2, sections
    if "reading the file" in sections:
        assert sections.index("reading the file") < sections.index("common options")
    common = text.split("\ncommon options:\n", 1)[1]
    assert "--debug" in common and "-h, --help" in common
    after_usage = text.split("\n\n", 1)[1]
    assert "--debug" not in after_usage.split("\ncommon options:\n", 1)[0]


def test_main_help_names_the_guide(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)
    assert "docs/cli.md" in " ".join(text.split())
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", text, re.MULTILINE), command


EXAMPLES = sorted(
    {(name, line) for name, p in COMMANDS.items() for line in examples_of(p.format_help())}
)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the examples run: the samples (linked) and room for outputs."""
    where = tmp_path_factory.mktemp("examples")
    (where / "samples").symlink_to(REPO / "samples")
    return where


@pytest.mark.parametrize(("command", "line"), EXAMPLES)
def test_every_example_runs_on_the_samples(sample_dir: Path, command: str, line: str) -> None:
    argv = shlex.split(line)
    assert argv[0] == "recview"
    output = argv[argv.index("-o") + 1] if "-o" in argv else "-"
    if output != "-":
        (sample_dir / output).unlink(missing_ok=True)  # made by this example, not an earlier one
    res = subprocess.run(
        [sys.executable, "-m", "recview", *argv[1:]],
        cwd=sample_dir,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert res.returncode == 0, f"{line}\n{res.stderr}"
    if output == "-":
        assert res.stdout, line
    else:
        assert (sample_dir / output).stat().st_size > 0, line
