"""A live server, real Celery workers on the real Redis broker and a headless Chromium, for tests/browser/."""

import socket

import pytest

from catdog_site.celery import app as celery_app

from ..worker import running_worker
from .browser import CHROMIUM_ARGS, DESKTOP, Screenshots, record_csp_violations, require_chromium


# Package scope: the browser, its event loop and the setting below end with tests/browser/, so the rest
# of the suite runs as it would without them.
@pytest.fixture(scope="package")
def chromium(django_db_setup):
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as mp, sync_playwright() as playwright:
        # Playwright's sync API keeps an asyncio loop registered as running in this thread, so Django
        # refuses ORM calls from the tests ("cannot call this from an async context"). They are plain
        # synchronous calls, so the check is a false alarm here. (The test database is set up first.)
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def expect(chromium):
    """Playwright's retrying assertions (imported once the chromium fixture has checked playwright is there)."""
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    violations = record_csp_violations(context)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the pages: {errors}"
    assert violations == [], f"Content-Security-Policy violations on the pages: {violations}"


@pytest.fixture
def screenshot(request):
    return Screenshots(request.node.name)


@pytest.fixture(scope="package")
def browser_media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("browser-media")


def _worker(queues, name, media_root, tmp_path_factory, django_db_blocker):
    with django_db_blocker.unblock():
        log_path = tmp_path_factory.mktemp("logs") / f"{name}.log"
        with running_worker(queues=queues, media_root=media_root, name=name, log_path=log_path) as process:
            process.hostname = f"{name}@{socket.gethostname()}"
            process.log_path = log_path
            yield process


@pytest.fixture(scope="package")
def prediction_worker(django_db_setup, django_db_blocker, browser_media_root, tmp_path_factory):
    yield from _worker("predictions", "browser-predictions", browser_media_root, tmp_path_factory, django_db_blocker)


@pytest.fixture(scope="package")
def training_worker(django_db_setup, django_db_blocker, browser_media_root, tmp_path_factory):
    yield from _worker("training,datasets", "browser-training", browser_media_root, tmp_path_factory, django_db_blocker)


@pytest.fixture
def real_workers(settings, monkeypatch, browser_media_root):
    """The live server stores files where the workers read them and sends tasks to the broker."""
    settings.MEDIA_ROOT = browser_media_root
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)


@pytest.fixture
def live_url(live_server):
    return live_server.url.rstrip("/")
