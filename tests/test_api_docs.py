"""The API's OpenAPI schema (/api/schema/) and reference page (/api/docs/): public, made from the code, and the
page's files served by the site itself under its Content-Security-Policy (tests/browser/test_api_docs.py runs it)."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "/api/token/": {"post"},
    "/api/predictions/": {"get", "post"},
    "/api/predictions/{id}/": {"get", "delete"},
    "/api/predictions/{id}/feedback/": {"post", "delete"},
    "/api/predictions/{id}/heatmap.png": {"get"},
    "/api/webhooks/": {"get", "post"},
    "/api/webhooks/{id}/": {"get", "put", "patch", "delete"},
    "/api/webhooks/{id}/deliveries/": {"get"},
}


def test_the_schema_is_public_and_describes_every_operation():
    r = APIClient().get("/api/schema/")
    assert r.status_code == 200
    schema = yaml.safe_load(r.content)
    assert schema["openapi"].startswith("3.")
    assert {path: set(methods) for path, methods in schema["paths"].items()} == OPERATIONS


def test_the_schema_says_which_calls_need_a_token():
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    assert "security" not in schema["paths"]["/api/token/"]["post"]
    for path, methods in OPERATIONS.items():
        if path != "/api/token/":
            for method in methods:
                assert {"tokenAuth": []} in schema["paths"][path][method]["security"], (path, method)
                assert {"apiKeyAuth": []} in schema["paths"][path][method]["security"], (path, method)
                assert "401" in schema["paths"][path][method]["responses"], (path, method)


def test_the_reference_page_is_public_and_loads_only_the_sites_own_scripts(client):
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>", html)
    sources = [re.search(r'src="([^"]+)"', attributes)[1] for attributes in scripts]
    assert len(sources) == len(scripts) == 3  # no inline script
    for source in sources:
        assert source.startswith("/"), source  # no CDN
    static = [source.removeprefix("/static/") for source in sources if source.startswith("/static/")]
    assert len(static) == 2 and all(finders.find(path) for path in static)
    assert "script-src 'self'" in r["Content-Security-Policy"]
    assert "unsafe-inline" not in r["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_the_pages_own_script_is_served_as_javascript(client):
    html = client.get("/api/docs/").content.decode()
    [init] = re.findall(r'src="(/api/docs/[^"]+)"', html)
    r = client.get(init.replace("&amp;", "&"))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in r.content.decode() and "/api/schema/" in r.content.decode()


def test_an_unknown_path_under_the_api_answers_404_in_json():
    for path in ["/api/predictions/0.5/", "/api/predictions/abc/", "/api/nothing/"]:
        r = APIClient().get(path)
        assert r.status_code == 404, path
        assert r.json() == {"detail": "Not found."}, path
