"""The direction of dependencies, as `.importlinter` states it: the site uses the apps, `classifier` may use
`trainer` and `accounts` and never the reverse, no two modules of a package import each other (not even
inside a function), and TensorFlow is not reachable from what the web process loads but through the
workers' seams. Checked by import-linter on the real tree, and on copies with a wrong import planted."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("catdog_site", "accounts", "classifier", "trainer", "webhooks")


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


PLANTED = {
    # a cycle, through an import inside a function, the usual way around one
    "cycle": ("trainer/actions/versions.py", "def _planted():\n    from trainer import tasks  # noqa\n"),
    "wrong way": ("trainer/models/versions.py", "import classifier.models  # noqa\n"),
    "tensorflow on the web": ("trainer/forms.py", "def _planted():\n    import tensorflow  # noqa\n"),
}
BROKEN = {
    "cycle": "No cycles are allowed in trainer",
    "wrong way": "trainer is not allowed to import classifier",
    "tensorflow on the web": "trainer.admin is not allowed to import tensorflow",
}


@pytest.mark.parametrize("planted", list(PLANTED))
def test_a_planted_wrong_import_breaks_a_contract(planted, tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    path, code = PLANTED[planted]
    with open(tmp_path / path, "a") as module:
        module.write("\n" + code)

    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert BROKEN[planted] in result.stdout
