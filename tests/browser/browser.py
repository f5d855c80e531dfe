"""Debian's Chromium driven by Playwright, and the screenshots the browser tests leave behind."""

import os
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def require_chromium() -> str:
    """The path of Debian's chromium. Missing: a skip locally, a failure where CATDOG_REQUIRE_BROWSER=1 (CI)."""
    problem = None
    path = shutil.which("chromium")
    if path is None:
        problem = "the browser tests need Debian's chromium: apt-get install -y chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the browser tests need the playwright package (requirements/dev.txt)"
    if problem is None:
        return path
    if os.environ.get("CATDOG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CATDOG_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
    pytest.skip(problem)


class Screenshots:
    """Numbered full-page screenshots: test-artifacts/screenshots/<test>/NN-name.png."""

    def __init__(self, test_name: str):
        self.folder = SCREENSHOTS / test_name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def __call__(self, page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        return path


def log_in_to_the_admin(page, live_url: str, username: str, password: str) -> None:
    page.goto(f"{live_url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form [type=submit]")
    page.wait_for_url(f"{live_url}/admin/")


def assert_fits_the_width(page) -> None:
    """Nothing sticks out sideways (a phone would scroll horizontally)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: the page is {widths[0]} px wide in a {widths[1]} px window"


def assert_no_sideways_scroll(page, selector: str) -> None:
    """The element shows all it holds without scrolling sideways (a table cut off on the right)."""
    widths = page.evaluate(f"(e => [e.scrollWidth, e.clientWidth])(document.querySelector({selector!r}))")
    assert widths[0] <= widths[1], f"{page.url}: {selector} holds {widths[0]} px in {widths[1]} px"


def assert_images_loaded(page) -> None:
    """Every image in view has loaded (a broken thumbnail or photo shows as an empty box)."""
    # Polled from here: wait_for_function compiles its predicate in the page, which the policy forbids (eval).
    complete = (
        "Array.from(document.images).filter(i => i.getBoundingClientRect().top < innerHeight).every(i => i.complete)"
    )
    deadline = time.monotonic() + 15
    while not page.evaluate(complete):
        assert time.monotonic() < deadline, f"{page.url}: images still loading after 15 s"
        page.wait_for_timeout(100)
    broken = page.evaluate(
        "Array.from(document.images).filter(i => i.getBoundingClientRect().top < innerHeight"
        " && i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == [], f"{page.url}: images that did not load: {broken}"


# Every violation of the Content-Security-Policy: Chromium logs each to the console, and the page's
# securitypolicyviolation event is logged too (a script Playwright injects, which the policy does not govern).
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  var what = e.violatedDirective + " blocked " + (e.blockedURI || "inline");
  console.error("CSP violation: " + what + " at " + e.documentURI);
});
"""


def record_csp_violations(context) -> list[str]:
    """The policy violations of every page of a browser context, as the console reports them."""
    violations = []
    context.add_init_script(_REPORT_VIOLATIONS)

    def note(message):
        if message.text.startswith("CSP violation") or "Content Security Policy" in message.text:
            violations.append(message.text)

    context.on("console", note)
    return violations
