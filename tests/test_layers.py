"""The sim package's layers point down, read from its import graph (every `import`, including
the lazy ones inside functions, since those run too):

    faces      cli, commands, keywords (gallery_keywords), bench, __main__
    diagnosis  diagnosis, sweep, gallery (what scenario runs mean: causes, thresholds, the gallery)
    scenario   scenario
    engines    machine, renode, net, tls, http, gdb, peer, ladder, backends, baremetal
    leaves     platform, seed, vtime, event_queue, errors, frame_types, backend, cachedir

A module imports only from its own layer or below, never upwards; within the engines only the
pairs listed in ENGINE_EDGES may know each other (the machine knows no network, the network no
TLS, TLS no sockets or frames); and no two modules import each other, directly or round a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import sim

SIM = Path(sim.__file__).resolve().parent

LAYERS = {
    "faces": ("sim.cli", "sim.commands", "sim.keywords", "sim.gallery_keywords", "sim.bench", "sim.__main__", "sim"),
    "diagnosis": ("sim.diagnosis", "sim.sweep", "sim.gallery"),
    "scenario": ("sim.scenario",),
    "engines": ("sim.machine", "sim.renode", "sim.net", "sim.tls", "sim.http", "sim.gdb", "sim.peer",
                "sim.ladder", "sim.backends", "sim.baremetal"),
    "leaves": ("sim.platform", "sim.seed", "sim.vtime", "sim.event_queue", "sim.errors", "sim.frame_types",
               "sim.backend", "sim.cachedir"),
}
RANK = {unit: rank for rank, units in enumerate(reversed(LAYERS.values())) for unit in units}

# Cycles that exist and are being taken apart; nothing may join them and no new one may appear.
KNOWN_CYCLES: list[list[str]] = []

SHARED_LEAVES = ("sim.errors", "sim.frame_types", "sim.event_queue")     # what the other leaves may use

# the only engine -> engine dependencies: the factory opens either backend; the peer serves HTTP
# over TLS; the ladder draws TLS journals
ENGINE_EDGES = {
    ("sim.backends", "sim.machine"), ("sim.backends", "sim.renode"),
    ("sim.peer", "sim.tls"), ("sim.peer", "sim.http"),
    ("sim.ladder", "sim.tls"),
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SIM.rglob("*.py"):
        parts = ("sim",) + path.relative_to(SIM).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (annotations only; never imported at run time)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
            else:
                todo.append(child)


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
                # `from package import submodule` depends on the submodule, `from m import name` on m
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                while parts and ".".join(parts) not in modules:      # `from m import name`: m
                    parts.pop()
                if parts and parts[0] == "sim" and ".".join(parts) != name:
                    graph[name].add(".".join(parts))
    return graph


def _unit(module: str) -> str:
    if module == "sim":
        return "sim"
    return ".".join(module.split(".")[:2])


def test_every_module_is_in_a_layer():
    unplaced = sorted({_unit(m) for m in _modules()} - set(RANK))
    assert not unplaced, f"place these in a layer in tests/test_layers.py: {unplaced}"


def test_imports_point_down():
    wrong = []
    for importer, imported in _import_graph().items():
        for target in imported:
            a, b = _unit(importer), _unit(target)
            if a == b:
                continue
            if RANK[b] > RANK[a]:
                wrong.append(f"{importer} imports {target}: upwards")
            elif RANK[a] == RANK[b] and a in LAYERS["engines"] and (a, b) not in ENGINE_EDGES:
                wrong.append(f"{importer} imports {target}: engines that must not know each other")
            elif RANK[a] == RANK[b] == RANK["sim.errors"] and b not in SHARED_LEAVES:
                wrong.append(f"{importer} imports {target}: a leaf depends only on the shared errors and frame types")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _import_graph()
    # Tarjan's strongly connected components: a component of more than one module is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(_modules()):
        if module not in index:
            visit(module)
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in new)


def test_the_graph_sees_lazy_and_relative_imports():
    """The oracle itself: it must see what these tests rely on."""
    graph = _import_graph()
    assert "sim.machine" in graph["sim.backends"]                     # lazy, inside a function
    assert "sim.scenario.model" in graph["sim.scenario.runner"]       # relative
    assert "sim.commands.run" in graph["sim.cli"]
