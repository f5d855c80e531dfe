"""No two modules of an app import each other, not even through an import inside a function."""

import ast
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    """Each module of `package` and the modules of `package` it imports, anywhere in its code."""
    folder = BASE_DIR / package
    modules = {
        ".".join(path.relative_to(BASE_DIR).with_suffix("").parts).removesuffix(".__init__"): path
        for path in folder.rglob("*.py")
        if "migrations" not in path.parts
    }
    graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                root = ".".join(filter(None, [base if node.level else "", node.module or ""]))
                targets = [root, *(f"{root}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the list of modules around it, or None."""
    visiting, done = [], set()

    def visit(module):
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done:
            return None
        visiting.append(module)
        for target in sorted(graph[module]):
            if found := visit(target):
                return found
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if found := visit(module):
            return found
    return None


@pytest.mark.parametrize("package", ["accounts", "classifier"])
def test_no_module_imports_one_that_imports_it(package):
    assert _cycle(_imports(package)) is None


def test_a_planted_cycle_is_found():
    graph = {"app.actions": {"app.tasks"}, "app.tasks": {"app.models", "app.actions"}, "app.models": set()}
    assert _cycle(graph) == ["app.actions", "app.tasks", "app.actions"]
    assert _cycle({**graph, "app.tasks": {"app.models"}}) is None
