"""Package layering: each package imports only the packages below it in ``ORDER``, with no cycle.

The graph is built statically (ast) over every module of src/mintloom. A node is a top-level
package (``campaign``) or module (``errors``); the root package is ``mintloom``. Top-level and
function-level imports are edges; imports under ``if TYPE_CHECKING:`` are kept apart (they never
run, so they cannot form a cycle, but they must still point down). A string that names a mintloom
module (``"mintloom.ledger.journal"``, for ``importlib``) is an edge too, so a layer cannot reach
up by name. The root's lazy ``_LAZY`` map is not an edge: it is the public facade, loaded only on
attribute access from outside.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mintloom

SRC = Path(mintloom.__file__).parent
ROOT = "mintloom"
FRONTENDS = frozenset({"cli", "api"})
# Tools above the core that may import anything but cli/api.
TOOLS = frozenset({"bench"})

# Bottom -> top: a node may import only the nodes listed before it. A new package or top-level
# module must be placed here (the test names it).
ORDER: tuple[str, ...] = (
    # foundation: no mintloom imports but each other
    "errors", "types", "faults", "logs", "progress", "resources", "config", "workspace",
    ROOT,  # __version__ and the error root; its TYPE_CHECKING facade imports are exempt
    "store",  # database, catalog, blobs, content identifiers (cid, unixfs)
    "provenance",  # keys, Content Credentials, the Merkle log
    "engines",
    "campaign",  # spec, plan, runner: handed its parts
    "ledger",
    "governance", "market",
    "verify",  # chain/licence lookups come in through a Protocol
    # top-level orchestration: whoever opens a workspace
    "schema", "studio", "chain_lookup", "pipeline", "dynamic",
    # frontends and tools
    "api", "cli", "bench",
)  # fmt: skip

# Imports a package may not make although they point down: verify gets its chain and licence
# lookups through a small Protocol instead of importing the ledger, governance or campaign.
FORBIDDEN: dict[str, frozenset[str]] = {"verify": frozenset({"ledger", "governance", "market", "campaign"})}

_MODULE_NAME = re.compile(r"mintloom\.(\w+)(?:\.\w+)*(?::\w+)?")


@dataclass
class Graph:
    runtime: dict[str, set[str]] = field(default_factory=dict)
    type_only: dict[str, set[str]] = field(default_factory=dict)

    def all_edges(self) -> dict[str, set[str]]:
        nodes = self.runtime.keys() | self.type_only.keys()
        return {n: self.runtime.get(n, set()) | self.type_only.get(n, set()) for n in nodes}


def _node_of(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return ROOT if rel == ("__init__.py",) else rel[0].removesuffix(".py")


def _nodes() -> set[str]:
    return {_node_of(p) for p in SRC.rglob("*.py")}


def _target(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != ROOT:
        return None
    return parts[1] if len(parts) > 1 else ROOT


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of import nodes inside ``if TYPE_CHECKING:`` blocks."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return found


def _imports(tree: ast.Module) -> Iterator[tuple[ast.stmt, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "mintloom uses absolute imports only"
            assert node.module is not None
            yield node, node.module


def _named_modules(tree: ast.Module, nodes: set[str]) -> Iterator[str]:
    """Nodes named by a string constant such as ``"mintloom.ledger.journal"`` (an importlib target)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _MODULE_NAME.fullmatch(node.value)
            if match is not None and match.group(1) in nodes:
                yield match.group(1)


def build_graph() -> Graph:
    graph = Graph()
    nodes = _nodes()
    for path in sorted(SRC.rglob("*.py")):
        src = _node_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = _type_checking_nodes(tree)
        for stmt, module in _imports(tree):
            dst = _target(module)
            if dst is None or dst == src:
                continue
            edges = graph.type_only if id(stmt) in typing_only else graph.runtime
            edges.setdefault(src, set()).add(dst)
        if src != ROOT:  # the root's strings are its lazy facade
            named = set(_named_modules(tree, nodes)) - {src}
            graph.runtime.setdefault(src, set()).update(named)
    return graph


def violations(
    edges: dict[str, set[str]], order: tuple[str, ...], forbidden: dict[str, frozenset[str]]
) -> set[tuple[str, str]]:
    """Edges to a node at the same rank or above in ``order``, or to a node ``forbidden`` to the source."""
    rank = {name: i for i, name in enumerate(order)}
    return {
        (src, dst)
        for src, dsts in edges.items()
        for dst in dsts
        if rank[dst] >= rank[src] or dst in forbidden.get(src, frozenset())
    }


def elementary_cycles(edges: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Every simple cycle, each rotated to start at its smallest node (the graph is small)."""
    cycles: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                cycles.add(tuple(path))
            elif nxt > start and nxt not in path:
                walk(start, nxt, [*path, nxt])

    for start in sorted(edges):
        walk(start, start, [start])
    return cycles


def test_graph_sees_known_edges() -> None:
    """The parser finds function-level and type-only imports (else the checks below are empty)."""
    graph = build_graph()
    assert "ledger" in graph.runtime["studio"]  # function-level, Studio.chain
    assert "ledger" in graph.runtime["schema"]
    assert "api" in graph.runtime["cli"]
    assert "ledger" in graph.type_only["studio"]


def test_string_named_modules_are_edges() -> None:
    """A module named by string for importlib is an edge, so store cannot reach up by name."""
    tree = ast.parse('TABLES = ("mintloom.ledger.journal", "mintloom.toml", "mintloom.engines.image:X")')
    assert set(_named_modules(tree, {"ledger", "engines"})) == {"ledger", "engines"}


def test_store_imports_neither_provenance_nor_ledger() -> None:
    """The cycles of issue 12: tables are declared upward on store.db.Base, never imported by store."""
    edges = build_graph().all_edges()
    # faults (crash points: os and signal only) sits at the bottom with errors and types
    assert edges["store"] <= {"errors", "types", "faults"}, sorted(edges["store"])
    text = "\n".join(p.read_text(encoding="utf-8") for p in (SRC / "store").rglob("*.py"))
    assert "mintloom.provenance" not in text and "mintloom.ledger" not in text


def _assert_placed(edges: dict[str, set[str]]) -> None:
    named = set(edges) | {dst for dsts in edges.values() for dst in dsts} | _nodes()
    unplaced = named - set(ORDER)
    assert not unplaced, f"place these packages/modules in ORDER: {sorted(unplaced)}"


def test_every_node_is_placed_in_the_order() -> None:
    _assert_placed(build_graph().all_edges())


def test_imports_point_down_the_order() -> None:
    """Runtime and TYPE_CHECKING imports alike (the root's facade excepted) only import below."""
    graph = build_graph()
    edges = {**graph.all_edges(), ROOT: graph.runtime.get(ROOT, set())}
    _assert_placed(edges)
    found = violations(edges, ORDER, FORBIDDEN)
    assert found == set(), f"import(s) against the layering (src, dst): {sorted(found)}"


def test_core_never_imports_frontends() -> None:
    graph = build_graph()
    both = graph.all_edges()
    offenders = {(src, dst) for src, dsts in both.items() if src not in FRONTENDS for dst in dsts & FRONTENDS}
    assert offenders == set(), f"core packages import a frontend: {sorted(offenders)}"


def test_tools_are_not_imported_by_core() -> None:
    graph = build_graph()
    offenders = {src for src, dsts in graph.runtime.items() if dsts & TOOLS and src not in FRONTENDS}
    assert offenders == set(), f"core packages import bench: {sorted(offenders)}"


def test_there_is_no_import_cycle() -> None:
    cycles = elementary_cycles(build_graph().runtime)
    assert cycles == set(), "package-level import cycle(s): " + "; ".join(
        " -> ".join([*cycle, cycle[0]]) for cycle in sorted(cycles)
    )


def test_cycle_finder_finds_a_planted_cycle() -> None:
    """The finder itself: a planted three-node cycle and a self-free chain."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert elementary_cycles(edges) == {("a", "b", "c")}


def test_order_check_finds_planted_violations() -> None:
    """The check itself: an edge up, an edge against the order and a forbidden edge down fail."""
    edges = {"low": set(), "mid": {"low"}, "top": {"mid", "low"}, "peer": {"top"}}
    order = ("low", "mid", "top", "peer")
    assert violations(edges, order, {}) == set()
    assert violations({**edges, "low": {"top"}}, order, {}) == {("low", "top")}
    assert violations(edges, ("low", "mid", "peer", "top"), {}) == {("peer", "top")}
    assert violations(edges, order, {"top": frozenset({"low"})}) == {("top", "low")}
