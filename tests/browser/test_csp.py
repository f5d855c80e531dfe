"""The site and Django's admin work under the Content-Security-Policy, enforced by a real browser: pages load
and their scripts run with no violation reported (the `page` fixture fails a test on any)."""

import pytest
from django.core.management import call_command

from classifier.models import Prediction
from trainer.models import Dataset, ModelVersion

from ..conftest import image_bytes
from .browser import record_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def _log_in(page, live_url, username, *, admin=False) -> None:
    page.goto(f"{live_url}/admin/login/" if admin else f"{live_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]" if admin else "[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/admin/" if admin else f"{live_url}/")


def test_the_users_pages_run_their_scripts_under_the_policy(page, expect, live_url, django_user_model):
    user = django_user_model.objects.create_user(username="robin", password=PASSWORD)
    pending = Prediction.objects.create(
        owner=user, original_name="a.png", image_format="PNG", width=8, height=8, size_bytes=10
    )
    response = page.goto(f"{live_url}/accounts/signup/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_password1", "123")
    page.fill("#id_password2", "124")
    page.click("[data-signup-form] button[type=submit]")  # the page's own scripts run (busy button)
    _log_in(page, live_url, "robin")
    expect(page.locator("html")).to_have_class("js")  # static/js/app.js ran
    page.set_input_files(
        "[data-upload-form] input[type=file]", {"name": "a.png", "mimeType": "image/png", "buffer": image_bytes()}
    )
    expect(page.locator("[data-file-list] img")).to_have_count(1)  # the preview, a blob: URL
    page.goto(f"{live_url}/predictions/")
    page.goto(f"{live_url}/predictions/{pending.pk}/")
    with page.expect_response(lambda r: "/predictions/updates/" in r.url):  # htmx runs, without eval
        pass


def test_djangos_admin_works_under_the_policy(page, expect, live_url, django_user_model):
    django_user_model.objects.create_superuser(username="ada", password=PASSWORD)
    call_command("ensure_shipped_model", verbosity=0)
    version = ModelVersion.objects.get()
    _log_in(page, live_url, "ada", admin=True)
    page.goto(f"{live_url}/admin/trainer/modelversion/")
    page.click("#action-toggle")  # the change list's own script ticks every row
    expect(page.locator("input.action-select:checked")).to_have_count(1)
    page.goto(f"{live_url}/admin/trainer/modelversion/{version.pk}/change/")
    expect(page.locator("#training-panel")).to_be_visible()
    page.goto(f"{live_url}/admin/auth/user/add/")
    page.fill("#id_username", "bob")
    page.fill("#id_password1", "a long enough passphrase 42")
    page.fill("#id_password2", "a long enough passphrase 42")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    page.goto(f"{live_url}/admin/classifier/prediction/")
    page.goto(f"{live_url}/admin/trainer/dataset/add/")
    dataset = Dataset.objects.create(
        name="pets", source="folder", status="ready", class_names=["cat", "dog"], content_sha256="0" * 64,
        report={"total": 10, "counts": {"cat": 5, "dog": 5}},
    )  # fmt: skip
    page.goto(f"{live_url}/admin/trainer/dataset/{dataset.pk}/train/")
    expect(page.locator("[data-submit-training]")).to_be_visible()
    Dataset.objects.filter(pk=dataset.pk).update(status="processing")
    page.goto(f"{live_url}/admin/trainer/dataset/{dataset.pk}/change/")
    # While a worker checks it, the page asks for its panel every 2 s (htmx), and loads once more at the end.
    with page.expect_response(lambda response: response.url.endswith("/updates/"), timeout=6000):
        pass
    Dataset.objects.filter(pk=dataset.pk).update(status="ready")
    with page.expect_navigation(timeout=6000):
        pass
    expect(page.locator("#dataset-check")).to_have_attribute("data-status", "ready")


def test_a_violation_would_be_seen(chromium, live_url):
    """The check itself: a page with an inline script, under the site's policy, is reported."""
    context = chromium.new_context()
    violations = record_csp_violations(context)
    page = context.new_page()
    policy = "default-src 'self'; script-src 'self'"
    page.route(
        f"{live_url}/probe/",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html", "Content-Security-Policy": policy},
            body="<!doctype html><p>probe</p><script>document.title = 'ran'</script>",
        ),
    )
    page.goto(f"{live_url}/probe/")
    page.wait_for_timeout(300)
    assert page.title() == "", "the inline script was blocked"
    context.close()
    assert any("script-src" in v for v in violations), violations
