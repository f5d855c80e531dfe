"""The web process never imports TensorFlow or Keras: every module it can load is imported in a fresh
interpreter (the WSGI application, every URL's view, the admin, the API, Celery's default imports and
autodiscovered tasks, and every other module of the project but the training pipeline's own)."""

import json
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# Imported only by the training worker, which runs TensorFlow by design: the training pipeline and the served
# model it exports (prediction workers serve the exported files through trainer/engines/, without TensorFlow:
# tests/test_worker_serving.py).
TRAINING_ONLY = [
    "trainer.ml.model",
    "trainer.ml.train",
    "trainer.ml.inputs",
    "trainer.ml.calibrate",
    "trainer.ml.serving",
    "trainer.ml.export",
    "trainer.ml.downloads",
]

_IMPORT_WHAT_THE_WEB_CAN_LOAD = """
import importlib, json, pkgutil, sys
from catdog_site.wsgi import application  # sets Django up, loads every app and the admin's registrations
from django.urls import URLPattern, get_resolver

def callbacks(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            yield pattern.callback
        else:
            yield from callbacks(pattern.url_patterns)

views = list(callbacks(get_resolver().url_patterns))
from catdog_site.celery import app
app.loader.import_default_modules()  # what a worker would import: CELERY_IMPORTS and autodiscovered tasks
skip = set(sys.argv[1].split(",")) | {"catdog_site.settings.production"}  # production wants its secrets
packages = ("accounts", "catdog_site", "classifier", "trainer")
for package in packages:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name not in skip and ".migrations." not in info.name:
            importlib.import_module(info.name)
for name in sys.argv[2:]:
    importlib.import_module(name)
print(json.dumps({
    "heavy": sorted(n for n in sys.modules if n.split(".")[0] in ("tensorflow", "keras")),
    "project": sorted(n for n in sys.modules if n.split(".")[0] in packages),
    "tasks": sorted(app.tasks),
    "views": len(views),
}))
"""


def _import_in_a_fresh_process(*also: str) -> dict:
    env = {"DJANGO_SETTINGS_MODULE": "catdog_site.settings.test", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_WHAT_THE_WEB_CAN_LOAD, ",".join(TRAINING_ONLY), *also],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_module_the_web_process_can_load_imports_tensorflow_or_keras():
    loaded = _import_in_a_fresh_process()
    assert loaded["heavy"] == []
    # The imports did reach what the web process serves and what it enqueues.
    for name in ("catdog_site.urls", "classifier.views", "classifier.api", "classifier.admin", "trainer.admin"):
        assert name in loaded["project"]
    assert {"classifier.tasks", "trainer.tasks", "trainer.ml.data", "trainer.ml.evaluate"} <= set(loaded["project"])
    assert {"classifier.tasks.predict_image", "trainer.tasks.train_model_version"} <= set(loaded["tasks"])
    assert loaded["views"] > 20
    assert not set(TRAINING_ONLY) & set(loaded["project"])


def test_the_check_sees_tensorflow_when_a_module_brings_it_in():
    assert "tensorflow" in _import_in_a_fresh_process("trainer.ml.model")["heavy"]
