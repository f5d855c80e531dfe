"""The production settings: they refuse to start without a required variable, naming it; with them,
`check --deploy` has nothing to say (secure and HTTP-only cookies among its checks); a response redirects
to HTTPS and carries HSTS, and no page shows debug details."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "CACHE_URL", "CELERY_BROKER_URL"]


def _manage(*args, **env_overrides):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "catdog_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "catdog.example.org",
        "CACHE_URL": "redis://127.0.0.1:6379/1",  # never connected to by these commands
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_DEBUG": "true",  # production must ignore it
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_has_no_warning():
    r = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "System check identified no issues" in r.stdout


@pytest.mark.parametrize("name", REQUIRED)
def test_it_refuses_to_start_without_a_required_variable(name):
    r = _manage("check", **{name: ""})  # empty, not unset: a .env file must not fill it in
    assert r.returncode != 0
    assert name in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0  # one line
    for other in set(REQUIRED) - {name}:
        assert other not in r.stderr


def test_it_names_every_missing_variable_at_once():
    r = _manage("check", **dict.fromkeys(REQUIRED, ""))
    assert r.returncode != 0
    assert all(name in r.stderr for name in REQUIRED)


def test_it_refuses_a_cache_that_web_processes_do_not_share():
    r = _manage("check", "--deploy", CACHE_URL="locmemcache://")
    assert r.returncode != 0
    assert "django_ratelimit.E003" in r.stderr


# What a browser gets from the production settings, through the whole middleware stack. Static files are
# served unhashed here, since the test has not run collectstatic; nothing else is changed.
_REQUESTS = """
import json
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

statics = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=statics):
    client, host = Client(), "catdog.example.org"
    plain = client.get(reverse("login"), HTTP_HOST=host)
    secure = client.get(reverse("login"), HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https")
    missing = client.get("/no-such-page/", HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "secure": [secure.status_code, secure.get("Strict-Transport-Security")],
    "csrf_cookie_secure": bool(secure.cookies["csrftoken"]["secure"]),
    "missing": [missing.status_code, missing.content.decode()],
}))
"""


def _responses(**env_overrides) -> dict:
    r = _manage("shell", "-c", _REQUESTS, **env_overrides)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_https_is_required_and_browsers_are_told_to_keep_to_it_for_a_year():
    responses = _responses()
    assert responses["plain"] == [301, "https://catdog.example.org/accounts/login/"]
    assert responses["secure"] == [200, "max-age=31536000; includeSubDomains; preload"]
    assert responses["csrf_cookie_secure"] is True
    status, body = responses["missing"]  # DJANGO_DEBUG=true is set, and ignored
    assert status == 404
    assert "Page not found" in body and "URLconf" not in body and "Traceback" not in body


def test_the_hsts_duration_is_the_variables():
    responses = _responses(DJANGO_SECURE_HSTS_SECONDS="600")
    assert responses["secure"] == [200, "max-age=600; includeSubDomains; preload"]


@pytest.mark.django_db
def test_an_unhandled_error_shows_the_plain_500_page(client, user, settings, monkeypatch):
    settings.DEBUG = False

    def broken(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("classifier.views.history_page.Paginator", broken)
    client.force_login(user)
    client.raise_request_exception = False
    r = client.get(reverse("classifier:history"))
    assert r.status_code == 500
    body = r.content.decode()
    assert "Something went wrong on our side" in body
    for leak in ("hunter2", "RuntimeError", "Traceback", "SECRET_KEY", settings.SECRET_KEY, "classifier/views/"):
        assert leak not in body


@pytest.mark.django_db
def test_a_missing_page_does_not_list_the_url_patterns(client, user, settings):
    settings.DEBUG = False
    client.force_login(user)
    r = client.get("/no-such-page/")
    assert r.status_code == 404
    body = r.content.decode()
    assert "Page not found" in body
    assert "URLconf" not in body and "api/" not in body
