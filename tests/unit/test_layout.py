"""The package layout, as a stranger reads it: imports point
one way, schema -> readers/views -> streams/frames -> CLI and interop, with no
cycles, and every module's docstring opens with a line saying what it owns.

The graph is read from the source with :mod:`ast` (every ``import`` and
``from ... import``, at module level or inside a function: a lazy import that
closes a cycle is still a cycle), so the test needs no import side effects.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "recview"

# The layers, lowest first: a module may import from its own layer and the
# ones below, never from a layer above.
LAYERS: dict[str, int] = {}
for _layer, _names in enumerate(
    [
        # vocabulary and leaves
        ["errors", "_extras", "_bits", "_vocab", "pool"],
        # schema: the field model and its front ends
        [
            "schema",
            "_atoms",
            "_dtypes",
            "_fieldinfo",
            "_schema_json",
            "_c",
            "_construct",
            "_npy",
            "formats",
        ],
        # readers and views, and the conversions of their records (to Arrow,
        # pandas, polars) that their methods run
        [
            "_mapping",
            "_region",
            "_readers",
            "_local",
            "_tracking",
            "_keys",
            "_follow",
            "_colsplit",
            "view",
            "remote",
            "_remote_source",
            "_remote_view",
            "_tables",
            "_export",
        ],
        # streams and frames
        ["streams", "compressed", "frames", "_frame_file", "_frame_index", "_frame_walk"],
        # CLI, interop and what builds on all of it
        ["interop", "sql", "dask", "testing", "cli", "__main__", ""],
    ]
):
    for _name in _names:
        LAYERS[_name] = _layer


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The recview modules a module imports (``from recview import x`` names
    ``recview.x`` when that is a module, else the package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "recview")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "recview":
                continue
            subs = [f"{node.module}.{a.name}" for a in node.names]
            modules = [s for s in subs if s in MODULES or _extension(s)]
            found.update(s for s in modules if s in MODULES)
            if len(modules) < len(subs):
                found.add(node.module)
    return found - {module_name(path)}


def _extension(name: str) -> bool:
    """``recview._guard``: a C extension module, not in the graph."""
    stem = name.rsplit(".", 1)[-1]
    return any(PACKAGE.glob(f"{stem}.*.so"))


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def layer_of(name: str) -> int:
    top = name.split(".")[1] if "." in name else ""
    assert top in LAYERS, f"{name}: add it to a layer in tests/unit/test_layout.py"
    return LAYERS[top]


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_imports_point_one_way() -> None:
    upward = set()
    for name, deps in GRAPH.items():
        for dep in deps:
            # the package __init__ re-exports: only the CLI and tooling may use it
            if layer_of(dep) > layer_of(name) or (dep == "recview" and layer_of(name) < 4):
                upward.add((name, dep))
    assert upward == set()


def _cycles() -> set[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(frozenset(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert _cycles() == set()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_docstring_opens_with_what_it_owns(name: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    assert doc, f"{name} has no docstring"
    first = doc.splitlines()[0].strip()
    assert len(first.split()) >= 3, f"{name}: first line {first!r} does not say what it owns"
