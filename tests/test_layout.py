"""The shape of the code: no import cycles, a small top level, short modules and functions.

Imports are read with ast, not by importing: every import counts, including those inside
functions and under ``if TYPE_CHECKING`` (they hide a cycle, they do not remove it), and
``importlib.import_module("...")`` with a literal name.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("airken", "train", "bench", "tests")
MAX_TOP_LEVEL = 16
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40
TRAINING = ("train.train", "train.lopo", "train.verdicts", "train.places")
PUBLISHING = {"train.bundle", "train.push", "train.model_card"}


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every Python file of PACKAGES."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "node_modules" in parts:
                continue
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a relative ``from ... import``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([name] if name else []))


def _named(node: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """The names one ast node imports; ``from x import y`` names x.y when that is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _absolute(module, is_package, node.level, node.module)
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
        if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def _resolve(name: str, importer: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that ``name`` means, or None for a third-party one. tests/ puts its
    own folder on sys.path, so ``import badinputs`` there means tests.badinputs."""
    folder = importer.rsplit(".", 1)[0] if importer.startswith("tests.") else ""
    for candidate in (name, f"{folder}.{name}", f"tests.{name}"):
        parts = candidate.split(".")
        for end in range(len(parts), 0, -1):  # a.b.C (a class) is module a.b
            if ".".join(parts[:end]) in modules:
                return ".".join(parts[:end])
        if not importer.startswith("tests."):
            break
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, anywhere in its file."""
    modules = module_files()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = (n for node in ast.walk(tree) for n in _named(node, module, path.name == "__init__.py", modules))
        graph[module] = {t for n in names if (t := _resolve(n, module, modules)) and t != module}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One closed path through a component, to show in the failure."""
    members = set(component)
    path, seen = [component[0]], {component[0]: 0}
    while True:
        step = next(m for m in sorted(graph[path[-1]]) if m in members)
        if step in seen:
            return path[seen[step]:] + [step]
        seen[step] = len(path)
        path.append(step)


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "airken.core.classes" in graph["train.data"]
    assert "train.data" in graph["train.train"]  # from train import data: the submodule
    assert "train.train" in graph["train.lopo"]  # inside a function
    assert "airken.core.predictor" in graph["airken"]  # import_module("...") inside __getattr__
    assert "tests.verdicts" in graph["tests.test_verdict"]  # tests/ is on sys.path


def test_relative_imports_resolve_from_the_importer():
    assert _absolute("a.b.c", False, 1, "d") == "a.b.d"
    assert _absolute("a.b", True, 1, "d") == "a.b.d"  # a package's __init__: its own folder
    assert _absolute("a.b.c", False, 2, None) == "a"


def test_no_import_cycles():
    graph = import_graph()
    cycles = strongly_connected(graph)
    shown = "\n".join(" -> ".join(a_cycle(graph, c)) for c in cycles)
    assert not cycles, f"import cycles:\n{shown}"


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_training_imports_nothing_from_publishing():
    graph = import_graph()
    found = {m: sorted(reachable(graph, m) & PUBLISHING) for m in graph if m.startswith(TRAINING)}
    assert not any(found.values()), {m: f for m, f in found.items() if f}


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert a_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_airken_top_level_is_small():
    top = [p for p in (ROOT / "airken").iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()]
    assert len(top) <= MAX_TOP_LEVEL, sorted(p.name for p in top)


AIRKEN_MODULES = sorted((ROOT / "airken").rglob("*.py"))


@pytest.mark.parametrize("path", AIRKEN_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_airken_modules_are_short(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)}: {lines} lines"


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_airken_functions_are_short():
    found = [f for path in AIRKEN_MODULES for f in long_functions(path)]
    assert not found, "\n".join(found)
