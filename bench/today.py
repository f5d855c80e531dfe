"""Today's code, for the benchmarks that compare against it in the same run: a module as it was at TODAY,
loaded from git history, or a worktree checked out at TODAY.

TODAY is the last commit whose prediction worker served from Keras (a frozen `tf.function`); the serving
engines came after it. Loading old code needs nothing installed beyond what the project has: git only.
"""

import subprocess
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = "0ef0480"


def today_module(path: str, commit: str = TODAY) -> types.ModuleType:
    """The module at `path` (e.g. "classifier/inference.py") as it was at `commit`, imported under a name of
    its own; its imports resolve to today's checkout (the modules it needs have kept their interfaces)."""
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType(f"today_{Path(path).stem}")
    module.__file__ = f"{commit}:{path}"
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 (our own history)
    return module


def today_checkout(folder: Path, commit: str = TODAY) -> Path:
    """A worktree of the project at `commit` in `folder` (made once, reused), sharing this checkout's venv."""
    if not (folder / "manage.py").is_file():
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), commit], cwd=ROOT, check=True)
    venv = folder / ".venv"
    if not venv.exists():
        venv.symlink_to((ROOT / ".venv").resolve())
    return folder
