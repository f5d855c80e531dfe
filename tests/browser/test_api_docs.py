"""The API's reference page (/api/docs/) runs in a real browser under the site's Content-Security-Policy: Swagger UI
from the site's own static files draws every operation of the schema, with no violation reported (the `page`
fixture fails a test on any) and nothing fetched from elsewhere."""

import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_reference_page_draws_the_schema_under_the_policy(page, expect, live_url):
    schema = requests.get(f"{live_url}/api/schema/", headers={"Accept": "application/json"}, timeout=10)
    assert schema.status_code == 200, schema.text[:500]
    operations = sum(len(methods) for methods in schema.json()["paths"].values())
    elsewhere = []
    page.on("request", lambda request: None if request.url.startswith(live_url) else elsewhere.append(request.url))
    response = page.goto(f"{live_url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock")).to_have_count(operations)  # every operation of the schema
    expect(page.locator(".opblock-summary-path", has_text="/api/webhooks/{id}/deliveries/")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/predictions/{id}/heatmap.png")).to_be_visible()
    assert elsewhere == []
