"""The package's plan, checked: layers that import only downwards, and no import circle.

Every ``import`` in every module counts: at module level, inside functions and under
``if TYPE_CHECKING:`` alike, relative and absolute. A function-level import still ties
two modules together (it only delays the tie), and a type named from a higher layer is an
upward tie too. ``LAYERS`` is the contract, written top to bottom; docs/architecture.md
draws the same picture.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import TEST_KEY

PACKAGE = Path(__file__).resolve().parent.parent / "nb_banana"

# Top to bottom. A module may import its own layer (sideways, never in a circle) and any
# layer below it; never one above. A module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("nb_banana", "nb_banana.demo"),  # the public face and the demo script
    ("nb_banana.faces",),  # magics, %banana subcommands, the Python API, panel, mark-up
    ("nb_banana.turns",),  # one turn's steps: plan, from_store, send, commit; each, batch
    ("nb_banana.context",),  # the per-kernel owner: settings, store, engine, session
    ("nb_banana.memory",),  # SQLite + blobs: store, cache, chats, history
    ("nb_banana.answer",),  # what a turn gives back: Result, EachResult, display, previews
    # The only door to Google (models, request, wire, engine) and its stand-in, the
    # offline Gemini server, which reads the same model table.
    ("nb_banana.gemini", "nb_banana.simulator"),
    ("nb_banana.errors", "nb_banana.version"),  # shared by all
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The package's modules that one import statement loads (``from . import x`` names
    module ``x``; ``from .x import y`` names ``x``, or ``x.y`` when that is a module)."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name in MODULES)
        return
    if node.level:
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = here[: len(here) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    for alias in node.names:
        candidate = f"{source}.{alias.name}"
        if candidate in MODULES:
            yield candidate
        elif source in MODULES:
            yield source


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports anywhere in its text."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(t for t in _targets(name, path, node) if t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` of the longest prefix naming ``module``."""
    best, best_len = -1, -1
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    return best


def upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Every (importer, imported) pair whose target sits in a higher layer."""
    return {
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if layer_of(target) < layer_of(source)
    }


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) < 0] == []


def test_no_import_circle() -> None:
    found = circles(import_graph())
    assert found == [], "import circles (function-level and TYPE_CHECKING imports count):\n" + (
        "\n".join(" ↔ ".join(part) for part in found)
    )


def test_imports_point_down() -> None:
    found = sorted(upward(import_graph()))
    assert found == [], "upward imports:\n" + "\n".join(f"{s} → {t}" for s, t in found)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_circles_finds_a_circle(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The checker itself: a three-module circle is found, a line is not."""
    assert circles(graph) == expected


def test_a_result_shows_itself_without_load_ext(sim, tmp_path):
    """``r = nb_banana.generate(...); r`` in a kernel that never ran ``%load_ext``: the
    result's display (drawn by answer/display.py, which result.py does not import) is its
    pictures, not its repr. A fresh interpreter, so no other test has loaded display."""
    script = (
        "import nb_banana\n"
        "from IPython.core.formatters import DisplayFormatter\n"
        "r = nb_banana.generate('a kite')\n"
        "data, _ = DisplayFormatter().format(r)\n"
        "print('<img' in data.get('text/html', ''), 'data:image/' in data.get('text/html', ''))\n"
    )
    env = {
        **os.environ,
        "GEMINI_API_KEY": TEST_KEY,
        "GOOGLE_GEMINI_BASE_URL": sim.url,
        "PYTHONPATH": str(PACKAGE.parent),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]
    assert [r for r in sim.requests if r.method == "POST"], "the picture came from the simulator"
