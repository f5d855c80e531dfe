"""The Content-Security-Policy: sent with every page, no inline script anywhere it could be needed, photos
allowed from the storage's bucket when they live in S3."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from storages.backends.s3 import S3Storage

from catdog_site.settings.base import s3_image_sources, s3_storage

BASE_DIR = Path(settings.BASE_DIR)
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["login", "signup", "admin:login"])
def test_every_page_is_sent_with_a_policy_that_forbids_inline_scripts(client, name):
    policy = _directives(client.get(reverse(name))["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in policy["script-src"]


@pytest.mark.django_db
def test_the_signed_in_pages_and_the_polls_carry_it_too(client, user):
    client.force_login(user)
    for url in [reverse("classifier:upload"), reverse("classifier:history"), reverse("classifier:history-updates")]:
        assert "script-src 'self'" in client.get(url)["Content-Security-Policy"], url


def _templates() -> list[Path]:
    folders = [BASE_DIR / "templates", *(BASE_DIR / app / "templates" for app in ("accounts", "classifier", "trainer"))]
    return sorted(path for folder in folders if folder.is_dir() for path in folder.rglob("*.html"))


def _inline_scripts(text: str) -> list[str]:
    return [tag.group(0) for tag in SCRIPT.finditer(text) if not re.search(r"\bsrc\s*=", tag.group(1))]


def test_no_template_holds_an_inline_script():
    templates = _templates()
    assert any(path.parts[-3:] == ("trainer", "dataset", "train.html") for path in templates)
    found = {str(path.relative_to(BASE_DIR)): _inline_scripts(path.read_text()) for path in templates}
    assert {path: scripts for path, scripts in found.items() if scripts} == {}


def test_the_scan_finds_inline_scripts_and_lets_files_through():
    assert _inline_scripts('<script>alert(1)</script><SCRIPT type="module">x</SCRIPT>') == [
        "<script>",
        '<SCRIPT type="module">',
    ]
    assert _inline_scripts('<script src="/static/js/app.js" defer></script>') == []


@pytest.mark.parametrize(
    "options",
    [
        {"bucket": "photos", "endpoint_url": "http://127.0.0.1:9000"},
        {"bucket": "photos", "endpoint_url": "https://objects.example.org"},
        {"bucket": "photos", "region": "eu-west-3"},
        {"bucket": "photos"},
    ],
)
def test_the_storages_signed_urls_are_allowed_images(options):
    storage = S3Storage(**{**s3_storage(**options, access_key="key", secret_key="secret")["OPTIONS"]})
    url = urlsplit(storage.url("uploads/1/abc.jpg"))
    assert f"{url.scheme}://{url.netloc}" in s3_image_sources(**options)
