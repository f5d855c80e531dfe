"""Guessing gets nobody anywhere: another user's id answers exactly like an id that does not exist, storage
keys are random and never shown, and no URL serves a stored file by its key (tests/test_ownership.py has
the 404s themselves)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.actions import do_create_predictions
from classifier.validation import check_image_upload

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
MISSING_ID = 987654


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("classifier:detail", "get"),
        ("classifier:image", "get"),
        ("classifier:thumbnail", "get"),
        ("classifier:delete", "post"),
        ("classifier:retry", "post"),
    ],
)
def test_another_users_id_looks_like_one_that_does_not_exist(client, other_user, make_prediction, name, method):
    prediction = make_prediction()
    client.force_login(other_user)
    theirs = getattr(client, method)(reverse(name, args=[prediction.pk]))
    nobodys = getattr(client, method)(reverse(name, args=[MISSING_ID]))
    assert theirs.status_code == nobodys.status_code == 404
    assert _without_csrf_token(theirs) == _without_csrf_token(nobodys)


def _without_csrf_token(response):
    # The log-out form's token is masked afresh on every page.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.mark.parametrize("method", ["get", "delete"])
def test_the_api_answers_another_users_id_like_a_missing_one(other_user, make_prediction, method):
    prediction = make_prediction()
    api = APIClient()
    api.force_authenticate(other_user)
    theirs = getattr(api, method)(reverse("api:prediction-detail", args=[prediction.pk]))
    nobodys = getattr(api, method)(reverse("api:prediction-detail", args=[MISSING_ID]))
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.json() == nobodys.json()


def test_stored_names_are_random_not_the_photos_name_or_an_id(user):
    photos = [check_image_upload(upload("alice-holiday.png", image_bytes())) for _ in range(2)]
    predictions = do_create_predictions(user, photos)
    names = [name for p in predictions for name in (p.image.name, p.thumbnail.name)]
    assert len(set(names)) == 4  # the same photo twice: four different keys
    for prediction in predictions:
        for name in (prediction.image.name, prediction.thumbnail.name):
            stem = Path(name).stem
            assert re.fullmatch(r"[0-9a-f]{32}", stem), name  # a uuid4: 122 random bits, not an id
            assert "holiday" not in name and "alice" not in name


def test_pages_and_the_api_never_show_a_storage_key(client, user, make_prediction):
    prediction = make_prediction()
    keys = [prediction.image.name, prediction.thumbnail.name, Path(prediction.image.name).stem]
    client.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    answers = [
        client.get(reverse("classifier:detail", args=[prediction.pk])).content.decode(),
        client.get(reverse("classifier:history")).content.decode(),
        api.get(reverse("api:prediction-detail", args=[prediction.pk])).content.decode(),
        api.get(reverse("api:prediction-list")).content.decode(),
    ]
    for answer in answers:
        for key in keys:
            assert key not in answer


def test_no_settings_module_routes_urls_to_the_media_folder():
    """`make run` (local settings, DEBUG on) included: no pattern serves MEDIA_ROOT by file name."""
    code = (
        "from django.conf import settings; from django.urls import Resolver404, get_resolver, resolve\n"
        "from django.views.static import serve\n"
        "def walk(patterns):\n"
        "    for p in patterns:\n"
        "        yield from walk(p.url_patterns) if hasattr(p, 'url_patterns') else [p]\n"
        "assert not [p for p in walk(get_resolver().url_patterns) if p.callback is serve]\n"
        "for url in ('/media/uploads/1/x.png', '/uploads/1/x.png', '/thumbnails/1/x.jpg'):\n"
        "    try:\n"
        "        resolve(url)\n"
        "    except Resolver404:\n"
        "        continue\n"
        "    raise AssertionError(url)\n"
        "media = settings.MEDIA_ROOT.resolve()\n"
        "assert not [d for d in settings.STATICFILES_DIRS if media.is_relative_to(Path(d).resolve())]\n"
        "print('ok', settings.DEBUG)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "catdog_site.settings.local", "DJANGO_DEBUG": "true"}
    r = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from pathlib import Path\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "ok True"
