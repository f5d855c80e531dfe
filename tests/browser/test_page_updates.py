"""A page's one poll in a real browser: one request a page however many photos wait, none while the tab is
hidden, none once nothing is pending (HTTP 286); the deleted and the signed-out are told. No worker: the
answers are written to the database by the test."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classifier.models import Prediction

from ..conftest import image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
POLL = "/predictions/updates/"


@pytest.fixture
def robin(django_user_model):
    return django_user_model.objects.create_user(username="robin", password=PASSWORD)


@pytest.fixture
def signed_in(page, live_url, robin):
    page.goto(f"{live_url}/accounts/login/")
    page.fill("#id_username", "robin")
    page.fill("#id_password", PASSWORD)
    page.click("[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/")
    return page


def _pending(owner, name="a.png") -> Prediction:
    return Prediction.objects.create(
        owner=owner, original_name=name, image_format="PNG", width=8, height=8, size_bytes=len(image_bytes())
    )


def _polls(page) -> list[str]:
    seen = []
    page.on("request", lambda request: seen.append(request.url) if POLL in request.url else None)
    return seen


def _set_hidden(page, hidden: bool) -> None:
    page.evaluate(
        "hidden => { Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});"
        " document.dispatchEvent(new Event('visibilitychange')); }",
        hidden,
    )


def test_one_poll_for_the_page_paused_while_hidden_and_stopped_when_all_is_answered(signed_in, expect, live_url, robin):
    page = signed_in
    first, second, third = _pending(robin, "1.png"), _pending(robin, "2.png"), _pending(robin, "3.png")
    polls = _polls(page)
    page.goto(f"{live_url}/predictions/")
    page.wait_for_timeout(4500)
    assert 1 <= len(polls) <= 3, f"one request every 2 s for the three rows, not one per row: {polls}"
    assert all("watch=" in url for url in polls)

    _set_hidden(page, True)
    page.wait_for_timeout(500)  # a request already on its way may still land
    polls.clear()
    page.wait_for_timeout(4500)
    assert polls == [], "a hidden tab does not poll"
    with page.expect_request(lambda request: POLL in request.url, timeout=2500):
        _set_hidden(page, False)  # shown again: it asks at the next tick

    Prediction.objects.filter(pk__in=[first.pk, second.pk]).update(status="done", label="cat", confidence=0.9)
    expect(page.locator('[data-prediction][data-status="done"]')).to_have_count(2)
    expect(page.locator('.filters [data-verdict="cat"]')).to_have_text("cat 2")
    Prediction.objects.filter(pk=third.pk).update(status="failed", error="The photo could not be decoded.")
    expect(page.locator(f'#prediction-{third.pk}[data-status="failed"]')).to_contain_text("could not be decoded")
    page.wait_for_timeout(500)
    polls.clear()
    page.wait_for_timeout(4500)
    assert polls == [], "nothing is pending: the server stopped the polling"


def test_a_deleted_photo_and_a_signed_out_person_are_told(signed_in, expect, live_url, robin):
    page = signed_in
    kept, deleted = _pending(robin, "kept.png"), _pending(robin, "deleted.png")
    page.goto(f"{live_url}/predictions/{deleted.pk}/")
    deleted.delete()
    expect(page.locator(".result")).to_contain_text("This photo is no longer here: it was deleted.")

    page.goto(f"{live_url}/predictions/{kept.pk}/")
    page.context.clear_cookies()
    expect(page.locator("[data-signed-out]")).to_contain_text("You are signed out.")
    page.click("[data-signed-out] a")
    page.wait_for_url(f"{live_url}/accounts/login/?next=*")
    expect(page.locator("[data-login-form] input[name=next]")).to_have_value(f"/predictions/{kept.pk}/")


def test_a_slow_photo_says_so_and_its_answer_names_the_tab(signed_in, expect, live_url, robin):
    page = signed_in
    prediction = _pending(robin)
    page.goto(f"{live_url}/predictions/{prediction.pk}/")
    expect(page.locator(".slow-note")).to_be_hidden()
    Prediction.objects.filter(pk=prediction.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    expect(page.locator(".slow-note")).to_be_visible()
    expect(page.locator(".slow-note")).to_contain_text("taking longer than usual")
    Prediction.objects.filter(pk=prediction.pk).update(status="done", label="cat", confidence=0.9)
    expect(page.locator('.result [data-field="verdict"]')).to_have_text("cat")
    expect(page).to_have_title("Cat · a.png · catdog")
