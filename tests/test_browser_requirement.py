"""The browser tests never pass silently without a browser: a skip locally, a failure where CI requires one."""

import sys

import pytest

from .browser import browser


def test_it_returns_the_chromium_on_the_path(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert browser.require_chromium() == "/usr/bin/chromium"


def test_it_skips_with_the_reason_when_chromium_is_missing(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.delenv("CATDOG_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        browser.require_chromium()


def test_it_fails_when_ci_requires_the_browser_and_chromium_is_missing(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CATDOG_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="CATDOG_REQUIRE_BROWSER=1 but .*chromium"):
        browser.require_chromium()


def test_it_fails_when_ci_requires_the_browser_and_playwright_is_missing(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # the import raises ImportError
    monkeypatch.setenv("CATDOG_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="playwright package"):
        browser.require_chromium()
