"""In a real browser, under the Content-Security-Policy: photos ticked on the history are deleted after the
confirmation page; the history's filters apply; the admin's dashboard draws its charts and loads the broker's
fragment with htmx (the `page` fixture fails a test on any policy violation)."""

import pytest

from classifier.models import Prediction

from ..page_helpers import _prediction
from .test_csp import PASSWORD, _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ticked_photos_are_deleted_once_confirmed(page, expect, live_url, django_user_model):
    user = django_user_model.objects.create_user(username="robin", password=PASSWORD)
    doomed, kept = (
        _prediction(user, name="doomed.png", status="failed"),
        _prediction(user, name="kept.png", status="failed"),
    )
    _log_in(page, live_url, "robin")
    page.goto(f"{live_url}/predictions/?status=failed")
    page.check(f"input[data-select-prediction][value='{doomed.pk}']")
    page.click("[data-bulk-delete] button[type=submit]")
    expect(page.locator("[data-bulk-chosen] li")).to_have_text(["doomed.png"])
    page.click("[data-bulk-confirm] button[type=submit]")
    page.wait_for_url(f"{live_url}/predictions/?status=failed")
    expect(page.locator("li[data-prediction]")).to_have_count(1)
    assert list(Prediction.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_dashboard_draws_its_charts_and_loads_the_broker_fragment(page, expect, live_url, django_user_model):
    admin = django_user_model.objects.create_superuser(username="ada", password=PASSWORD)
    _prediction(admin, status="failed", error="The photo could not be read.")
    _log_in(page, live_url, "ada", admin=True)
    page.goto(f"{live_url}/admin/classifier/prediction/")
    page.click("[data-dashboard-link]")
    expect(page.locator("figure[data-chart='per-hour'] rect.bar")).to_have_count(48)
    expect(page.locator("[data-failures]")).to_contain_text("The photo could not be read.")
    expect(page.locator("[data-dashboard-live]")).to_be_visible(timeout=8000)
