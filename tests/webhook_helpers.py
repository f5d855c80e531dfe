"""The README's verification snippet, read from the README itself, so that the tests run exactly what it shows."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_verifier():
    """verify_catdog_signature(secret, header, body) as the README "Webhooks" section defines it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    [snippet] = [block for block in blocks if "def verify_catdog_signature" in block]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 (the project's own README, the point of the test)
    return namespace["verify_catdog_signature"]
