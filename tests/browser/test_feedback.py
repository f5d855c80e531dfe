"""Feedback as a person gives it: "Right" on a history card and a class for "Can't tell", swapped in place by
htmx; a change on the photo's page; the same forms in a browser without JavaScript; and the corrections
setting. At desktop and phone widths, under the site's Content-Security-Policy (checked by the page fixture)."""

import pytest

from classifier.models import Feedback, Prediction
from trainer.models import ModelVersion

from ..conftest import shared_photo
from .browser import PHONE, assert_fits_the_width
from .test_verdict_pages import PASSWORD, _answered, _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def photos(monkeypatch, django_user_model):
    """Robin's photos answered "cat" and "Can't tell" by the active 2-class version."""
    monkeypatch.setattr("classifier.actions.predictions._enqueue", lambda pk: True)  # answered below, not by a worker
    robin = django_user_model.objects.create_user(username="robin", password=PASSWORD)
    pets = ModelVersion.objects.create(
        name="mobilenet_v2-catsdogs", architecture="mobilenet_v2", status="ready", class_names=["cat", "dog"],
        is_active=True,
    )  # fmt: skip
    return {
        "unsure": _answered(robin, shared_photo("dog", 4013), pets, "unsure", {"cat": 0.55, "dog": 0.45}),
        "cat": _answered(robin, shared_photo("cat", 4001), pets, "cat", {"cat": 0.981, "dog": 0.019}),
    }


def _feedback_of(prediction) -> str | None:
    return Feedback.objects.filter(prediction=prediction).values_list("label", flat=True).first()


def test_feedback_on_the_history_and_the_photos_page(page, expect, screenshot, chromium, live_url, photos):
    _log_in(page, live_url)
    page.evaluate("window.__marker = 'still the same page'")
    cat = page.locator(f"#prediction-{photos['cat'].pk}")
    expect(cat.locator(".feedback-ask")).to_have_text("Is this right?")
    screenshot(page, "history-asking")
    cat.locator("[data-feedback-right]").click()
    expect(cat.locator("[data-field=feedback]")).to_contain_text("You said: cat")
    unsure = page.locator(f"#prediction-{photos['unsure'].pk}")
    expect(unsure.locator("[data-feedback-right]")).to_have_count(0)
    unsure.get_by_role("button", name="dog").click()
    expect(unsure.locator("[data-field=feedback]")).to_contain_text("You said: dog")
    assert page.evaluate("window.__marker") == "still the same page"  # swapped in place, no new page
    assert (_feedback_of(photos["cat"]), _feedback_of(photos["unsure"])) == ("cat", "dog")
    screenshot(page, "history-with-feedback")

    page.goto(f"{live_url}/predictions/{photos['cat'].pk}/")
    result = page.locator(".result")
    expect(result.locator("[data-field=feedback]")).to_contain_text("You said: cat")
    result.locator("[data-feedback-change] summary").click()
    result.get_by_role("button", name="None of these").click()
    expect(result.locator("[data-field=feedback]")).to_contain_text("You said: Not a cat or a dog")
    expect(result.locator("[data-field=verdict]")).to_have_text("cat")  # the answer stays the model's
    assert _feedback_of(photos["cat"]) == "other"
    assert Prediction.objects.get(pk=photos["cat"].pk).verdict == "cat"
    screenshot(page, "detail-with-feedback")

    phone = chromium.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    for path in ("/predictions/", f"/predictions/{photos['unsure'].pk}/"):
        phone.goto(f"{live_url}{path}")
        assert_fits_the_width(phone)
        screenshot(phone, f"phone-{'history' if path.endswith('s/') else 'detail'}-with-feedback")
    phone.context.close()


def test_the_forms_work_without_javascript(chromium, expect, screenshot, live_url, photos, page):
    _log_in(page, live_url)
    context = chromium.new_context(java_script_enabled=False, storage_state=page.context.storage_state())
    plain = context.new_page()
    try:
        plain.goto(f"{live_url}/predictions/?page=1")
        plain.locator(f"#prediction-{photos['cat'].pk}").get_by_role("button", name="dog").click()
        plain.wait_for_url(f"{live_url}/predictions/?page=1#prediction-{photos['cat'].pk}")
        expect(plain.locator("[data-message]")).to_contain_text("Thank you: you said dog.")
        expect(plain.locator(f"#prediction-{photos['cat'].pk} [data-field=feedback]")).to_contain_text("You said: dog")
        assert _feedback_of(photos["cat"]) == "dog"
        screenshot(plain, "history-without-javascript")
    finally:
        context.close()


def test_the_corrections_setting(page, expect, screenshot, live_url, photos):
    _log_in(page, live_url)
    page.click(".nav-user .username")
    page.wait_for_url(f"{live_url}/accounts/settings/")
    checkbox = page.get_by_label("My corrected photos may be used to improve the model")
    expect(checkbox).not_to_be_checked()
    screenshot(page, "settings-off")
    checkbox.check()
    page.click("[data-corrections-form] button[type=submit]")
    expect(page.locator("[data-message]")).to_contain_text("Saved: the photos you corrected may be used")
    expect(checkbox).to_be_checked()
    expect(page.locator("[data-corrections-changed]")).to_contain_text("On since")
    screenshot(page, "settings-on")
