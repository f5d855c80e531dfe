"""The production settings: they refuse to start without a required variable, naming it; with them,
`check --deploy` has nothing to say; cookies are secure, HSTS is on, and no page shows debug details."""

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


def test_cookies_are_secure_hsts_is_on_and_debug_is_off():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n) for n in ["
        "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS',"
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_HTTPONLY']}))"
    )
    r = _manage("shell", "-c", code)
    assert r.returncode == 0, r.stderr
    values = json.loads(r.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_HTTPONLY": True,
    }


@pytest.mark.django_db
def test_an_unhandled_error_shows_the_plain_500_page(client, user, settings, monkeypatch):
    settings.DEBUG = False

    def broken(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("classifier.views.Paginator", broken)
    client.force_login(user)
    client.raise_request_exception = False
    r = client.get(reverse("classifier:history"))
    assert r.status_code == 500
    body = r.content.decode()
    assert "Something went wrong on our side" in body
    for leak in ("hunter2", "RuntimeError", "Traceback", "SECRET_KEY", settings.SECRET_KEY, "classifier/views.py"):
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
