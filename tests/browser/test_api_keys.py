"""The API keys page in a browser: make a key, see it once, use it against the API, revoke it from the list."""

import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


@pytest.fixture
def user_kim(django_user_model):
    return django_user_model.objects.create_user(username="kim", password=PASSWORD)


def test_a_key_is_made_shown_once_used_and_revoked(page, expect, screenshot, live_url, user_kim):
    page.goto(f"{live_url}/accounts/login/")
    page.fill("#id_username", "kim")
    page.fill("#id_password", PASSWORD)
    page.click("[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/")

    page.goto(f"{live_url}/accounts/settings/")
    page.click("[data-api-keys-link]")
    expect(page.locator("[data-no-keys]")).to_be_visible()
    page.fill("#id_name", "nightly backup")
    page.click("[data-new-key-form] button[type=submit]")
    key = page.locator("[data-key-value]").inner_text()
    expect(page.locator("[data-keys] tbody tr")).to_have_count(1)
    expect(page.locator("[data-keys]")).to_contain_text("nightly backup")
    screenshot(page, "api-key-made")

    api = f"{live_url}/api/predictions/"
    assert requests.get(api, headers={"Authorization": f"Api-Key {key}"}, timeout=10).status_code == 200

    page.goto(f"{live_url}/accounts/keys/")
    expect(page.locator("[data-key-value]")).to_have_count(0)  # shown once
    expect(page.locator("[data-keys] tbody tr td").nth(3)).not_to_have_text("never")  # last used: just now
    page.click("[data-revoke-form] button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("no longer works")
    expect(page.locator("[data-key-state]")).to_contain_text("revoked")
    screenshot(page, "api-key-revoked")
    refused = requests.get(api, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
