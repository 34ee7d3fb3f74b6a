"""The layering rule: models never import inference, explainers or the black box."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import probex

FORBIDDEN = ("probex.inference", "probex.explainers", "probex.blackbox")
MODELS = Path(probex.__file__).parent / "models"


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` anywhere in ``source`` names
    (function-level imports included; relative imports resolved against ``package``;
    ``from a import b`` also yields ``a.b``, which may be a submodule)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _violations(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))


def test_the_import_parser_sees_every_form():
    source = """
import probex.blackbox
from probex.explainers.lex import LEX
from ..inference import training
def late():
    from probex import blackbox
"""
    names = imported_modules(source, "probex.models")
    assert _violations(names) == ["probex.blackbox", "probex.explainers.lex",
                                  "probex.explainers.lex.LEX", "probex.inference",
                                  "probex.inference.training"]
    assert _violations(imported_modules("from probex.models.lex import LEXModel\n",
                                        "probex.models")) == []


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.py")), ids=lambda p: p.name)
def test_models_import_neither_inference_nor_explainers_nor_blackbox(path):
    names = imported_modules(path.read_text(), "probex.models")
    assert _violations(names) == [], f"{path.name} imports {_violations(names)}"
