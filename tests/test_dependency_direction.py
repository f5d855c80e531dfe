"""Dependencies run one way: `classifier` may use `trainer` (it serves the models trainer makes), never the
reverse. Read from the source, so that an import inside a function counts as much as one at the top."""

import ast
from pathlib import Path

TRAINER = Path(__file__).resolve().parent.parent / "trainer"


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_trainer_never_imports_classifier():
    wrong_way = [
        f"{path.relative_to(TRAINER.parent)}: {name}"
        for path in sorted(TRAINER.rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] == "classifier"
    ]
    assert wrong_way == []
