"""bench/ stands on its own: it imports neither the tests nor itself in a circle (imports inside
functions counted), and never puts tests/ on sys.path; the tests import what they share with
the benchmarks from bench.fixtures."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_MODULES = {p.stem for p in (ROOT / "tests").glob("*.py")}


def _bench_modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "bench").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every module an import statement names, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_bench_imports_no_test_module_and_leaves_sys_path_alone():
    for name, path in _bench_modules().items():
        assert not {m.split(".")[0] for m in _imports(path)} & TEST_MODULES, name
        assert "sys.path" not in path.read_text(), name


def test_bench_modules_import_each_other_in_one_direction():
    modules = _bench_modules()
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in graph[start])

    assert [name for name in graph if reaches(name, name, set())] == []
