"""The review queue in a browser, by keyboard: j moves to the next item, 2 chooses "dog", a accepts it, and the
page comes back at the item after it; under the admin's Content-Security-Policy (checked by the page fixture)."""

import pytest

from accounts.actions import do_set_corrections_consent
from classifier.models import Feedback, Review
from trainer.models import ModelVersion

from ..conftest import needs_shared_photos, shared_photo
from .browser import log_in_to_the_admin
from .test_verdict_pages import PASSWORD, _answered

pytestmark = [needs_shared_photos, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(monkeypatch, django_user_model):
    """Three of Robin's photos in the queue: his disagreeing feedback first, then the two closest calls."""
    monkeypatch.setattr("classifier.actions.predictions._enqueue", lambda pk: True)  # answered below, not by a worker
    django_user_model.objects.create_superuser(username="ada", password=PASSWORD)
    robin = django_user_model.objects.create_user(username="robin", password=PASSWORD)
    do_set_corrections_consent(robin, True)
    pets = ModelVersion.objects.create(
        name="mobilenet_v2-catsdogs", architecture="mobilenet_v2", status="ready", class_names=["cat", "dog"],
        is_active=True,
    )  # fmt: skip
    corrected = _answered(robin, shared_photo("cat", 4001), pets, "cat", {"cat": 0.97, "dog": 0.03})
    Feedback.objects.create(prediction=corrected, label="dog", given_by=robin)
    return [
        corrected,
        _answered(robin, shared_photo("dog", 4013), pets, "unsure", {"cat": 0.52, "dog": 0.48}),
        _answered(robin, shared_photo("cat", 4002), pets, "cat", {"cat": 0.6, "dog": 0.4}),
    ]


def test_an_item_is_accepted_with_the_keyboard(page, expect, screenshot, live_url, queue):
    corrected, close, closer = queue
    log_in_to_the_admin(page, live_url, "ada", PASSWORD)
    page.goto(f"{live_url}/admin/classifier/review/")
    items = page.locator("[data-review-item]")
    expect(items).to_have_count(3)
    expect(items.first).to_have_class("review-item current")
    screenshot(page, "review-queue")

    page.keyboard.press("j")
    expect(page.locator(f"#item-{close.pk}")).to_have_class("review-item current")
    page.keyboard.press("2")
    expect(page.locator(f"#item-{close.pk} input[value=dog]")).to_be_checked()
    page.keyboard.press("a")
    page.wait_for_url(f"{live_url}/admin/classifier/review/#item-{closer.pk}")
    expect(page.locator(".messagelist")).to_contain_text(f"Accepted {close.original_name} as “dog”.")
    expect(items).to_have_count(2)
    expect(page.locator(f"#item-{closer.pk}")).to_have_class("review-item current")
    review = Review.objects.get(prediction=close)
    assert (review.decision, review.label, review.decided_by.username) == ("accepted", "dog", "ada")

    page.keyboard.press("s")  # the current item, skipped: it goes to the end
    expect(page.locator(".messagelist")).to_contain_text(f"Skipped {closer.original_name}.")
    expect(items.last).to_have_attribute("id", f"item-{closer.pk}")
    screenshot(page, "review-queue-after-keys")
