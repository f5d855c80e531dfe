"""A web host installs requirements/web.txt only (no TensorFlow): the web process must start with nothing
else. The check runs in this environment (which has everything) with every package that web.txt does not
bring made unimportable, as on a web host; optional imports a library guards keep working."""

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
WEB_MODULES = "catdog_site.wsgi, catdog_site.urls, classifier.views, classifier.api, classifier.tasks, trainer.tasks"
AS_ON_A_WEB_HOST = (
    """
import json, re, sys
from importlib import metadata

installed = set(json.loads(sys.argv[1]))
owners = metadata.packages_distributions()


class NotOnAWebHost:
    def find_spec(self, name, path=None, target=None):
        distributions = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(name.split(".")[0], [])}
        if distributions and not distributions & installed:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed by requirements/web.txt)")


sys.meta_path.insert(0, NotOnAWebHost())
import django

django.setup()
"""
    + f"import {WEB_MODULES}\n"
)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_with(requirement: Requirement, seen: set[str]) -> None:
    """Add the distribution `requirement` names, and everything it requires, to `seen`."""
    name = normalized(requirement.name)
    if name in seen:
        return
    seen.add(name)
    for line in metadata.requires(requirement.name) or []:
        dependency = Requirement(line)
        wanted = [""] + sorted(requirement.extras)
        if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in wanted):
            installed_with(dependency, seen)


def web_host_distributions() -> set[str]:
    web_host: set[str] = set()
    for line in (ROOT / "requirements" / "web.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            installed_with(Requirement(line), web_host)
    return web_host


def test_the_web_process_starts_with_only_what_requirements_web_installs():
    web_host = web_host_distributions()
    assert "tensorflow-cpu" not in web_host and "keras" not in web_host
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "catdog_site.settings.test"}
    command = [sys.executable, "-c", AS_ON_A_WEB_HOST, json.dumps(sorted(web_host))]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
