"""A person in a real browser: sign up, log out, log in, upload two photos, watch the answers arrive, filter,
delete. Live server, a real worker with the shipped model on the real Redis broker, Debian's Chromium."""

import pytest
from django.core.management import call_command

from catdog_site.celery import app as celery_app
from classifier.models import Prediction

from ..conftest import shared_photo
from .browser import PHONE, assert_fits_the_width, assert_images_loaded

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough passphrase 42"
PENDING = '[data-prediction][data-status="pending"]'
DONE = '[data-prediction][data-status="done"]'


def _consume(worker, on: bool) -> None:
    """Stop or restart the worker's consumption of the predictions queue (Celery remote control)."""
    command = celery_app.control.add_consumer if on else celery_app.control.cancel_consumer
    replies = command("predictions", destination=[worker.hostname], reply=True, timeout=5)
    assert replies and "ok" in replies[0][worker.hostname], replies


def _submit(page, form: str) -> None:
    page.click(f"{form} button[type=submit]")


def test_a_person_signs_up_uploads_two_photos_and_reviews_them(
    chromium, page, expect, screenshot, live_url, prediction_worker, real_workers
):
    call_command("ensure_shipped_model", verbosity=0)
    _sign_up_log_out_and_in(page, expect, screenshot, live_url)
    _a_text_file_is_refused(page, expect, screenshot)
    cat, dog = shared_photo("cat", 4002), shared_photo("dog", 4002)
    cat_id, dog_id = _two_photos_answered_in_place(page, expect, screenshot, live_url, prediction_worker, cat, dog)
    _filter_by_verdict(page, expect, screenshot, live_url)
    _the_dog_shown_then_deleted(page, expect, screenshot, live_url, dog, dog_id)
    _one_photo_answered_on_its_own_page(page, expect, screenshot, live_url, prediction_worker)
    _phone_pages(chromium, page, screenshot, live_url, cat_id)


def _sign_up_log_out_and_in(page, expect, screenshot, live_url):
    # Sign up: straight to the upload page, signed in.
    page.goto(f"{live_url}/accounts/signup/")
    assert_images_loaded(page)
    screenshot(page, "signup")
    page.fill("#id_username", "robin")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    _submit(page, "[data-signup-form]")
    page.wait_for_url(f"{live_url}/")
    expect(page.locator(".username-text")).to_have_text("robin")
    screenshot(page, "upload-after-signup")

    # Log out, then in: a wrong password is refused on the page.
    _submit(page, "[data-logout]")
    page.wait_for_url(f"{live_url}/accounts/login/")
    expect(page.locator(".username-text")).to_have_count(0)
    screenshot(page, "login")
    page.fill("#id_username", "robin")
    page.fill("#id_password", "not the password")
    _submit(page, "[data-login-form]")
    expect(page.locator("[data-login-form] [role=alert]")).to_contain_text("Please enter a correct username")
    screenshot(page, "login-refused")
    page.fill("#id_password", PASSWORD)
    _submit(page, "[data-login-form]")
    page.wait_for_url(f"{live_url}/")
    expect(page.locator(".username-text")).to_have_text("robin")


def _a_text_file_is_refused(page, expect, screenshot):
    # A text file named .jpg passes the page's checks (by name and type) but the server refuses it.
    page.set_input_files(
        "[data-upload-form] input[type=file]", {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"hello"}
    )
    page.click("[data-upload-submit]")
    expect(page.locator("[data-upload-errors]")).to_contain_text("Nothing was uploaded")
    screenshot(page, "upload-refused")
    assert not Prediction.objects.exists()


def _two_photos_answered_in_place(page, expect, screenshot, live_url, prediction_worker, cat, dog):
    # Upload a cat and a dog while the worker takes nothing, so the history page surely opens with both pending.
    _consume(prediction_worker, on=False)
    page.set_input_files("[data-upload-form] input[type=file]", [cat, dog])
    expect(page.locator("[data-file-list] .file-item")).to_have_count(2)
    expect(page.locator("[data-upload-submit]")).to_contain_text("Classify 2 photos")
    assert_images_loaded(page)
    screenshot(page, "upload-chosen")
    page.click("[data-upload-submit]")
    page.wait_for_url(f"{live_url}/predictions/")
    expect(page.locator("[data-prediction]")).to_have_count(2)
    expect(page.locator(PENDING)).to_have_count(2)
    expect(page.locator(".alert")).to_contain_text("2 photos uploaded")
    screenshot(page, "history-pending")

    # The answers replace "Classifying…" without a reload: a value set on this window survives.
    page.evaluate("window.__marker = 'still the same page'")
    list_top = page.locator("[data-prediction-list]").bounding_box()["y"]
    _consume(prediction_worker, on=True)
    expect(page.locator(DONE)).to_have_count(2, timeout=60_000)
    assert page.evaluate("window.__marker") == "still the same page"
    assert page.locator("[data-prediction-list]").bounding_box()["y"] == list_top, "the list jumped"
    rows = {
        row.locator(".prediction-file").text_content().strip(): row for row in page.locator("[data-prediction]").all()
    }  # fmt: skip
    assert set(rows) == {cat.name, dog.name}
    assert rows[cat.name].locator('[data-field="verdict"]').text_content().strip() == "cat"
    assert rows[dog.name].locator('[data-field="verdict"]').text_content().strip() == "dog"
    # The swapped-in filters, counted: a chip per verdict the active version can give.
    expect(page.locator(".filters .chip")).to_have_text(["All", "cat 1", "dog 1", "Can't tell 0", "None of these 0"])
    assert_images_loaded(page)
    screenshot(page, "history-answered")
    dog_id = int(rows[dog.name].get_attribute("data-prediction-id"))
    cat_id = int(rows[cat.name].get_attribute("data-prediction-id"))

    return cat_id, dog_id


def _filter_by_verdict(page, expect, screenshot, live_url):
    # Filter by verdict, then back to all.
    page.click('.filters [data-verdict="dog"]')
    page.wait_for_url(f"{live_url}/predictions/?verdict=dog")
    expect(page.locator("[data-prediction]")).to_have_count(1)
    expect(page.locator('[data-prediction] [data-field="verdict"]')).to_have_text("dog")
    expect(page.locator('.filters [aria-current="true"]')).to_have_text("dog 1")
    screenshot(page, "history-filtered-dog")
    page.click('.filters [data-verdict=""]')
    page.wait_for_url(f"{live_url}/predictions/")
    expect(page.locator("[data-prediction]")).to_have_count(2)


def _the_dog_shown_then_deleted(page, expect, screenshot, live_url, dog, dog_id):
    # The dog's page: its answer and both probabilities.
    page.click(f'[data-prediction-id="{dog_id}"] [data-field="verdict"]')
    page.wait_for_url(f"{live_url}/predictions/{dog_id}/")
    expect(page.locator('.result [data-field="verdict"]')).to_have_text("dog")
    expect(page.locator("[data-probabilities] .prob-row")).to_have_count(2)
    assert_images_loaded(page)
    screenshot(page, "detail-dog")

    # Delete asks first: cancelling keeps the prediction, confirming deletes it.
    questions = []

    def answer(accept):
        def handle(dialog):
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(accept=False))
    page.click("[data-delete-form] button[type=submit]")
    assert questions == [f"Delete {dog.name} and its result? This cannot be undone."]
    assert page.url == f"{live_url}/predictions/{dog_id}/"
    assert Prediction.objects.filter(pk=dog_id).exists()
    page.once("dialog", answer(accept=True))
    page.click("[data-delete-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/predictions/")
    assert len(questions) == 2
    expect(page.locator(".alert")).to_contain_text(f"Deleted {dog.name}.")
    expect(page.locator("[data-prediction]")).to_have_count(1)
    expect(page.locator('[data-prediction] [data-field="verdict"]')).to_have_text("cat")
    screenshot(page, "history-after-delete")
    assert not Prediction.objects.filter(pk=dog_id).exists()
    assert page.goto(f"{live_url}/predictions/{dog_id}/").status == 404
    screenshot(page, "deleted-is-404")


def _one_photo_answered_on_its_own_page(page, expect, screenshot, live_url, prediction_worker):
    # One photo goes to its own page, which turns from pending to the answer in place as well.
    _consume(prediction_worker, on=False)
    page.goto(f"{live_url}/")
    page.set_input_files("[data-upload-form] input[type=file]", shared_photo("dog", 4003))
    page.click("[data-upload-submit]")
    page.wait_for_url(f"{live_url}/predictions/*/")
    expect(page.locator(f".result{PENDING}")).to_have_count(1)
    expect(page.locator(".waiting")).to_contain_text("Classifying")
    screenshot(page, "detail-pending")
    page.evaluate("window.__marker = 'still the same page'")
    _consume(prediction_worker, on=True)
    expect(page.locator(f".result{DONE}")).to_have_count(1, timeout=60_000)
    assert page.evaluate("window.__marker") == "still the same page"
    expect(page.locator('.result [data-field="verdict"]')).to_have_text("dog")
    expect(page.locator("[data-probabilities] .prob-row")).to_have_count(2)
    screenshot(page, "detail-answered")


def _phone_pages(chromium, page, screenshot, live_url, prediction_id):
    """Every page once at a phone's width: nothing wider than the screen, no broken image."""
    signed_in = chromium.new_context(viewport=PHONE, storage_state=page.context.storage_state())
    anonymous = chromium.new_context(viewport=PHONE)
    visits = [
        (signed_in, "upload", "/"),
        (signed_in, "history", "/predictions/"),
        (signed_in, "detail", f"/predictions/{prediction_id}/"),
        (signed_in, "password-change", "/accounts/password_change/"),
        (anonymous, "login", "/accounts/login/"),
        (anonymous, "signup", "/accounts/signup/"),
    ]
    try:
        for context, name, path in visits:
            phone = context.pages[0] if context.pages else context.new_page()
            assert phone.goto(f"{live_url}{path}").status == 200, path
            assert_fits_the_width(phone)
            assert_images_loaded(phone)
            screenshot(phone, f"phone-{name}")
    finally:
        signed_in.close()
        anonymous.close()
