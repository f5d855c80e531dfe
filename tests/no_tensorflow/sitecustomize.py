"""Put this folder on PYTHONPATH of a process that must never import TensorFlow or Keras: Python runs this
file as it starts, and from then on any import of either fails, and is written to the file named by
CATDOG_FORBIDDEN_IMPORTS_LOG, so that a test can tell even an import some library caught and went on without.
"""

import os
import sys


class _Forbidden:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tensorflow", "keras"):
            with open(os.environ["CATDOG_FORBIDDEN_IMPORTS_LOG"], "a") as log:
                log.write(f"{os.getpid()} imported {name}\n")
            raise ImportError(f"{name} may not be imported by this process")
        return None


sys.meta_path.insert(0, _Forbidden())
