"""The browser refuses to send more photos than the server takes, and says so before sending anything."""

import pytest
from django.conf import settings as django_settings

from classifier.models import Prediction

from ..conftest import image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIMIT = django_settings.CATDOG_MAX_FILES_PER_UPLOAD
INPUT = "[data-upload-form] input[type=file]"


def _photos(count: int) -> list[dict]:
    data = image_bytes("PNG", size=(8, 8))
    return [{"name": f"{i}.png", "mimeType": "image/png", "buffer": data} for i in range(count)]


def _log_in(page, live_url, user) -> None:
    page.goto(f"{live_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct horse battery")
    page.click("[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/")


def test_too_many_photos_are_never_sent(page, expect, screenshot, live_url, user):
    _log_in(page, live_url, user)
    assert page.get_attribute(INPUT, "data-max-files") == str(LIMIT)  # the file input knows the limit
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))

    page.set_input_files(INPUT, _photos(LIMIT + 1))
    summary = page.locator("[data-file-summary]")
    expect(summary).to_contain_text(f"Upload at most {LIMIT} photos at once.")  # said before sending
    page.click("[data-upload-submit]")
    expect(summary).to_contain_text(f"Nothing was sent: you chose {LIMIT + 1} photos.")
    screenshot(page, "upload-too-many")
    assert posts == []
    assert page.url == f"{live_url}/"
    assert page.get_attribute("[data-upload-submit]", "aria-busy") is None  # no spinner for a form not sent
    assert not Prediction.objects.exists()

    # Removing one is enough: the rest goes.
    page.click("[data-file-list] .file-remove")
    expect(summary).not_to_contain_text("Upload at most")
    page.click("[data-upload-submit]")
    page.wait_for_url(f"{live_url}/predictions/")
    assert Prediction.objects.count() == LIMIT
