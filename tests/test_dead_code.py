"""No seam without a user: every Protocol and NewType of src/mintloom is used outside its definition.

A Protocol with no second backend and no annotation naming it (issue 12 found ``Chain`` and
``BlobStore``) only promises a seam nobody tested; it lands with the backend that needs it.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import mintloom

SRC = Path(mintloom.__file__).parent


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))}


def _names_used(trees: dict[Path, ast.Module]) -> Counter[str]:
    """How often each name is loaded (``X``, ``mod.X``) anywhere in src, annotations included."""
    used: Counter[str] = Counter()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                used[node.id] += 1
            elif isinstance(node, ast.Attribute):
                used[node.attr] += 1
    return used


def _protocols(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(b) in {"Protocol", "typing.Protocol"} for b in node.bases)
    }


def _new_types(tree: ast.Module) -> set[str]:
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) == "NewType"
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_every_protocol_has_a_user() -> None:
    trees = _trees()
    used = _names_used(trees)
    protocols = {name for tree in trees.values() for name in _protocols(tree)}
    assert protocols, "the finder found no Protocol at all"
    unused = sorted(name for name in protocols if used[name] == 0)
    assert unused == [], f"Protocols nothing annotates or implements: {unused}"


def test_every_new_type_is_used_outside_types() -> None:
    trees = _trees()
    new_types = _new_types(trees[SRC / "types.py"])
    assert "CID" in new_types
    used = _names_used({p: t for p, t in trees.items() if p != SRC / "types.py"})
    assert sorted(name for name in new_types if used[name] == 0) == []


def test_the_finders_see_a_planted_unused_protocol() -> None:
    tree = ast.parse(
        "from typing import NewType, Protocol\n"
        "Orphan = NewType('Orphan', str)\n"
        "class Store(Protocol):\n    def get(self) -> bytes: ...\n"
        "class Used(Protocol): ...\n"
        "def f(x: Used) -> None: ...\n"
    )
    used = _names_used({Path("m.py"): tree})
    assert _protocols(tree) == {"Store", "Used"}
    assert _new_types(tree) == {"Orphan"}
    assert (used["Store"], used["Used"]) == (0, 1)
