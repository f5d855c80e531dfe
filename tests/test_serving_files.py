"""The photo and its thumbnail are served with the same headers by any web process, under the
photo's own name: a storage name (uploads/<owner>/<random>.jpg) is never shown."""

import json
import subprocess
import sys

import pytest
from django.urls import reverse

from classifier.validation import check_image_upload

from .conftest import image_bytes, upload
from .worker import ROOT, database_url

# A fresh process: nothing in it has opened an image yet, so Pillow's registry of types is still empty.
FRESH_PROCESS = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
client.force_login(get_user_model().objects.get(username=sys.argv[1]))
headers = {}
for url in sys.argv[2:]:
    r = client.get(url)
    headers[url] = [r.status_code, r["Content-Type"], r.get("Content-Disposition", "")]
print(json.dumps(headers))
"""


def _headers_in_a_fresh_process(user, settings, urls):
    env = {
        "DJANGO_SETTINGS_MODULE": "catdog_site.settings.test",
        "DATABASE_URL": database_url(),
        "CATDOG_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, user.username, *urls], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fmt", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_a_fresh_web_process_serves_the_photo_with_its_image_type(user, settings, fmt, content_type):
    from classifier.actions import do_create_predictions

    [prediction] = do_create_predictions(user, [check_image_upload(upload(f"Holiday.{fmt.lower()}", image_bytes(fmt)))])
    image_url = reverse("classifier:image", args=[prediction.pk])
    thumbnail_url = reverse("classifier:thumbnail", args=[prediction.pk])
    headers = _headers_in_a_fresh_process(user, settings, [image_url, thumbnail_url])
    assert headers[image_url][:2] == [200, content_type]
    assert headers[thumbnail_url][:2] == [200, "image/jpeg"]
    assert f'filename="Holiday.{fmt.lower()}"' in headers[image_url][2]


@pytest.mark.django_db
def test_the_thumbnail_is_named_after_the_photo_not_its_storage_name(client, user):
    from classifier.actions import do_create_predictions

    name = 'Été "à la plage".png'
    [prediction] = do_create_predictions(user, [check_image_upload(upload(name, image_bytes()))])
    client.force_login(user)
    r = client.get(reverse("classifier:thumbnail", args=[prediction.pk]))
    disposition = r["Content-Disposition"]
    assert prediction.thumbnail.name.rsplit("/", 1)[1] not in disposition
    assert disposition == "inline; filename*=utf-8''%C3%89t%C3%A9%20%22%C3%A0%20la%20plage%22%20%28thumbnail%29.jpg"
