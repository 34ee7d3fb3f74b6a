"""The package's layering, checked on its source with ``ast``:

- models never import inference, explainers or the black box (anywhere in a module);
- inference never imports explainers;
- no import cycle between modules at import time (module-level imports only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import probex

ROOT = Path(probex.__file__).parent
MODELS = ROOT / "models"
INFERENCE = ROOT / "inference"
FORBIDDEN_IN_MODELS = ("probex.inference", "probex.explainers", "probex.blackbox",
                       "probex.blackbox_counting", "probex.blackbox_models",
                       "probex.blackbox_outputs")
FORBIDDEN_IN_INFERENCE = ("probex.explainers",)


def module_name(path: Path) -> str:
    """``probex/perturb/levels.py`` -> ``probex.perturb.levels``; a package's
    ``__init__.py`` is the package itself."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from ... import`` names (relative levels resolved)."""
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    return base


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` anywhere in ``source`` names
    (function-level imports included; relative imports resolved against ``package``;
    ``from a import b`` also yields ``a.b``, which may be a submodule)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _violations(names: set[str], forbidden) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_statements(body):
    """The import statements that run when a module is imported: its top level, the
    branches of top-level ``if`` / ``try`` / ``with`` and class bodies; not function
    bodies, not ``if TYPE_CHECKING:`` blocks."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from import_time_statements(node.body)
            yield from import_time_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(handler.body for handler in node.handlers)):
                yield from import_time_statements(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from import_time_statements(node.body)


def import_time_edges(source: str, module: str, is_package: bool, known: set[str]
                      ) -> set[str]:
    """The probex modules that importing ``module`` executes first.

    Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``: every prefix that is a probex
    module is an edge, except the packages ``module`` itself lives in (they are
    already being initialised when it runs, and Python allows that) unless the
    statement names such a package directly (``from probex.perturb import X`` inside
    ``probex.perturb.levels`` reads a half-initialised namespace: a real cycle). ``from
    a import b`` is an edge to ``a.b`` when that is a module, else to ``a``.
    """
    package = _package_of(module, is_package)
    ancestors = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    if is_package:
        ancestors.discard(module)
    edges = set()

    def add(name: str, explicit: bool) -> None:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            named = explicit and i == len(parts)
            if prefix in known and prefix != module and (named or prefix not in ancestors):
                edges.add(prefix)

    for node in import_time_statements(ast.parse(source).body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, explicit=True)
        else:
            base = _resolve(node, package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known:
                    add(submodule, explicit=True)
                else:
                    add(base, explicit=True)
    return edges


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = {module_name(path): path for path in sorted(root.rglob("*.py"))}
    known = set(files)
    return {name: import_time_edges(path.read_text(), name, path.name == "__init__.py",
                                    known)
            for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None when it is acyclic
    (iterative depth-first search with white/grey/black colouring)."""
    state = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the stack, 2 done
    for start in sorted(graph):
        if state[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child, 2) == 1:
                path = [n for n, _ in stack]
                return path[path.index(child):] + [child]
            elif state.get(child, 2) == 0:
                state[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
    return None


# ---------------------------------------------------------------- the parsers
def test_the_import_parser_sees_every_form():
    source = """
import probex.blackbox
from probex.explainers.lex import LEX
from ..inference import training
def late():
    from probex import blackbox
"""
    names = imported_modules(source, "probex.models")
    assert _violations(names, FORBIDDEN_IN_MODELS) == [
        "probex.blackbox", "probex.explainers.lex", "probex.explainers.lex.LEX",
        "probex.inference", "probex.inference.training"]
    assert _violations(imported_modules("from probex.models.lex import LEXModel\n",
                                        "probex.models"), FORBIDDEN_IN_MODELS) == []


def test_import_time_edges_follow_python_semantics():
    known = {"probex", "probex.a", "probex.pkg", "probex.pkg.x", "probex.pkg.y"}
    source = """
from __future__ import annotations
from typing import TYPE_CHECKING
import probex.a
from . import y
from probex.pkg.x import thing
try:
    from probex import a
except ImportError:
    pass
if TYPE_CHECKING:
    from probex.b import Hidden
def late():
    from probex.c import later
"""
    # inside probex.pkg.x's sibling: the enclosing package probex.pkg is initialising
    assert import_time_edges(source, "probex.pkg.z", False, known) == {
        "probex.a", "probex.pkg.y", "probex.pkg.x"}
    # naming the enclosing package directly is an edge to it (a real cycle risk)
    assert import_time_edges("from probex.pkg import x_value\n", "probex.pkg.z", False,
                             known) == {"probex.pkg"}
    assert import_time_edges("from probex import __version__\n", "probex.a", False,
                             known) == {"probex"}
    # from another package, the package's __init__ runs first: an edge
    assert import_time_edges("from probex.pkg.x import thing\n", "probex.a", False,
                             known) == {"probex.pkg", "probex.pkg.x"}


def test_find_cycle_reports_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


# ---------------------------------------------------------------- the package
@pytest.mark.parametrize("path", sorted(MODELS.glob("*.py")), ids=lambda p: p.name)
def test_models_import_neither_inference_nor_explainers_nor_blackbox(path):
    names = imported_modules(path.read_text(), "probex.models")
    bad = _violations(names, FORBIDDEN_IN_MODELS)
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", sorted(INFERENCE.glob("*.py")), ids=lambda p: p.name)
def test_inference_does_not_import_explainers(path):
    names = imported_modules(path.read_text(), "probex.inference")
    bad = _violations(names, FORBIDDEN_IN_INFERENCE)
    assert bad == [], f"{path.name} imports {bad}"


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "probex.perturb" in graph  # the whole package was read
    assert sum(len(edges) for edges in graph.values()) > 100
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
