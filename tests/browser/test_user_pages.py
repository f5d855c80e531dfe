"""What a person reads on the user pages: an unreadable file is named as such before upload (no broken
preview), sign-up reports every problem and puts the cursor in the first field in error, logging out says so,
and a model's name is shown whole on the history's cards, at desktop and phone widths."""

import pytest

from classifier.models import Prediction
from trainer.models import ModelVersion

from .browser import PHONE, assert_fits_the_width

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
LONG_NAME = "catdog-mobilenet_v2-2026-11-29-retrained-on-every-photo"


def _log_in(page, live_url) -> None:
    page.goto(f"{live_url}/accounts/login/")
    page.fill("#id_username", "robin")
    page.fill("#id_password", PASSWORD)
    page.click("[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/")


def test_a_file_that_is_no_image_is_named_before_upload_not_previewed(page, expect, screenshot, live_url, user_robin):
    _log_in(page, live_url)
    page.set_input_files(
        "[data-upload-form] input[type=file]", {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"hello"}
    )
    item = page.locator("[data-file-list] .file-item")
    expect(item).to_have_class("file-item is-invalid")
    expect(item.locator(".file-problem")).to_have_text("Not a readable image: it may be damaged, or not a photo at all")
    expect(page.locator("[data-file-list] img")).to_have_count(0)
    expect(page.locator("[data-file-summary]")).to_contain_text("1 cannot be uploaded")
    screenshot(page, "upload-unreadable")


def test_sign_up_reports_every_problem_and_focuses_the_first(page, expect, screenshot, live_url):
    page.goto(f"{live_url}/accounts/signup/")
    page.fill("#id_username", "newbie")
    page.fill("#id_password1", "123")
    page.fill("#id_password2", "124")
    page.click("[data-signup-form] button[type=submit]")
    expect(page.locator(".field.has-errors")).to_have_count(2)
    expect(page.locator("#id_password1 ~ .errorlist")).to_contain_text("too short")
    expect(page.locator("#id_password2 ~ .errorlist")).to_contain_text("didn’t match")
    assert page.evaluate("document.activeElement.id") == "id_password1"
    screenshot(page, "signup-problems")


def test_logging_out_says_so(page, expect, screenshot, live_url, user_robin):
    _log_in(page, live_url)
    page.click("[data-logout] button[type=submit]")
    page.wait_for_url(f"{live_url}/accounts/login/")
    expect(page.locator(".alert")).to_have_text("You are logged out. ×")
    screenshot(page, "logged-out")


def test_the_models_name_is_shown_whole_on_the_history(page, expect, screenshot, chromium, live_url, user_robin):
    version = ModelVersion.objects.create(
        name=LONG_NAME, architecture="mobilenet_v2", status="ready", class_names=["cat", "dog"]
    )
    for label in ("cat", "dog"):
        Prediction.objects.create(
            owner=user_robin, original_name=f"{label}.png", image_format="PNG", width=8, height=8, size_bytes=10,
            status="done", label=label, confidence=0.97, probabilities={label: 0.97}, model_version=version,
        )  # fmt: skip
    _log_in(page, live_url)
    phone = chromium.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    for name, shown in (("desktop", page), ("phone", phone)):
        shown.goto(f"{live_url}/predictions/")
        for model in shown.locator("[data-field=model-version]").all():
            expect(model).to_have_text(LONG_NAME)
            line = "e => { const p = e.closest('p'); return p.scrollWidth <= p.clientWidth; }"
            assert model.evaluate(line), f"{name}: the model's name is cut"
        assert_fits_the_width(shown)
        screenshot(shown, f"history-{name}")
    phone.context.close()


@pytest.fixture
def user_robin(django_user_model):
    return django_user_model.objects.create_user(username="robin", password=PASSWORD)
