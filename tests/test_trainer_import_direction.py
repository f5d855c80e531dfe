"""The trainer's tasks call its actions, never the reverse: an action sends a task by name. Read from the
source, so that an import inside a function (the usual way around a cycle) counts too."""

import ast
from pathlib import Path

TRAINER = Path(__file__).resolve().parent.parent / "trainer"


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module `path` imports anywhere in it, relative imports resolved from `package`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def _trainer_modules() -> dict[str, Path]:
    modules = {}
    for path in TRAINER.rglob("*.py"):
        parts = ["trainer", *path.relative_to(TRAINER).with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_no_action_imports_the_tasks():
    actions = {name: path for name, path in _trainer_modules().items() if name.startswith("trainer.actions")}
    assert actions
    for name, path in actions.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = _imported_modules(path, package)
        assert not {module for module in imported if module.startswith("trainer.tasks")}, name


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def send(pk):\n    from ..tasks import train_model_version\n")
    assert "trainer.tasks.train_model_version" in _imported_modules(planted, "trainer.actions")
    assert "trainer.tasks" in _imported_modules(planted, "trainer.actions")
