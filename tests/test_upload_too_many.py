"""More photos than the limit in one request: the documented message at the real limit, on the page
(with the CSRF check on, as a browser meets it) and in the API; nothing stored."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from classifier.models import Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db

LIMIT = django_settings.CATDOG_MAX_FILES_PER_UPLOAD


def _photos(count: int):
    data = image_bytes("PNG", size=(8, 8))
    return [upload(f"{i}.png", data) for i in range(count)]


def test_one_photo_over_the_limit_gets_the_message_on_the_page(user, settings):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(reverse("classifier:upload"))
    token = browser.cookies["csrftoken"].value
    r = browser.post(reverse("classifier:upload"), {"csrfmiddlewaretoken": token, "images": _photos(LIMIT + 1)})
    assert r.status_code == 400
    page = r.content.decode()
    assert f"Upload at most {LIMIT} photos at once." in page
    assert "Nothing was uploaded." in page
    assert "data-upload-form" in page  # the upload page itself, ready to choose again
    assert Prediction.objects.count() == 0
    assert not [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


def test_the_limit_itself_is_accepted(user, settings):
    client = Client()
    client.force_login(user)
    r = client.post(reverse("classifier:upload"), {"images": _photos(LIMIT)})
    assert r.status_code == 302
    assert Prediction.objects.count() == LIMIT


def test_too_many_photos_get_the_message_in_the_api(user):
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    r = client.post(reverse("api:prediction-list"), {"image": _photos(LIMIT + 1)})
    assert r.status_code == 400
    assert r.json() == {"image": [f"Upload at most {LIMIT} photos at once."]}
    assert Prediction.objects.count() == 0


def test_the_file_input_carries_the_limit(user, settings):
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 7
    client = Client()
    client.force_login(user)
    page = client.get(reverse("classifier:upload")).content.decode()
    [file_input] = re.findall(r'<input[^>]*type="file"[^>]*>', page)
    assert 'data-max-files="7"' in file_input
