"""Put this folder on PYTHONPATH of a Celery worker whose tasks must take a while: Python runs this file as it
starts, and every task then waits CATDOG_TEST_TASK_DELAY seconds before its body runs (Celery's task_prerun, in
the pool process), a window in which a test can kill the worker mid-task. Answering a photo takes milliseconds
since workers serve through an engine: too short to aim a kill at."""

import os
import time

from celery.signals import task_prerun


def _wait(**kwargs):
    time.sleep(float(os.environ["CATDOG_TEST_TASK_DELAY"]))


task_prerun.connect(_wait, weak=False)
