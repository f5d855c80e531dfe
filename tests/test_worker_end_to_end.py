"""Upload over HTTP, a real worker on the real Redis broker with the real shipped model, result over HTTP."""

import re
import time

import pytest
import requests
from django.core.management import call_command

from catdog_site.celery import app as celery_app

from .conftest import shared_photo
from .worker import running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e-media")


@pytest.fixture(scope="module")
def prediction_worker(django_db_setup, django_db_blocker, media_root, tmp_path_factory):
    with django_db_blocker.unblock():
        log_path = tmp_path_factory.mktemp("logs") / "predictions-worker.log"
        with running_worker(
            queues="predictions", media_root=media_root, name="e2e-predictions", log_path=log_path
        ) as w:
            yield w


@pytest.fixture
def app_with_model(settings, media_root, monkeypatch, prediction_worker, user):
    settings.MEDIA_ROOT = media_root
    monkeypatch.setattr(celery_app.conf, "task_always_eager", False)
    call_command("ensure_shipped_model", verbosity=0)


def _logged_in_session(live_server) -> requests.Session:
    session = requests.Session()
    login_url = f"{live_server.url}/accounts/login/"
    page = session.get(login_url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    r = session.post(
        login_url,
        data={"username": "alice", "password": "correct horse battery", "csrfmiddlewaretoken": token},
        headers={"Referer": login_url},
    )
    assert r.status_code == 200 and "/accounts/login/" not in r.url
    return session


def _wait_until_finished(session, url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = session.get(url, headers={"Accept": "application/json"}).json()
        if body["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_photos_uploaded_on_the_page_get_their_answer_from_a_worker(live_server, app_with_model):
    session = _logged_in_session(live_server)
    upload_page = session.get(f"{live_server.url}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', upload_page.text).group(1)
    cat, dog = shared_photo("cat", 4002), shared_photo("dog", 4002)
    with open(cat, "rb") as cat_file, open(dog, "rb") as dog_file:
        r = session.post(
            f"{live_server.url}/",
            data={"csrfmiddlewaretoken": token},
            files=[("images", ("cat.jpg", cat_file, "image/jpeg")), ("images", ("dog.jpg", dog_file, "image/jpeg"))],
            headers={"Referer": f"{live_server.url}/"},
        )
    assert r.status_code == 200 and r.url == f"{live_server.url}/predictions/"

    listing = session.get(f"{live_server.url}/api/predictions/").json()
    assert listing["count"] == 2
    answers = {}
    for item in listing["results"]:
        body = _wait_until_finished(session, f"{live_server.url}/api/predictions/{item['id']}/")
        assert body["status"] == "done", body
        answers[body["id"]] = body
    by_label = sorted(body["label"] for body in answers.values())
    assert by_label == ["cat", "dog"]
    for body in answers.values():
        assert body["confidence"] > 0.9
        assert abs(sum(body["probabilities"].values()) - 1) < 1e-4
        assert body["model_version"]
        assert body["inference_ms"] > 0

    detail = session.get(f"{live_server.url}/predictions/{min(answers)}/")
    assert 'data-status="done"' in detail.text


def test_the_rest_api_round_trip_with_a_token(live_server, app_with_model):
    credentials = {"username": "alice", "password": "correct horse battery"}
    token = requests.post(f"{live_server.url}/api/token/", data=credentials, timeout=10).json()["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    with open(shared_photo("dog", 4003), "rb") as f:
        r = api.post(f"{live_server.url}/api/predictions/", files={"image": ("dog.jpg", f, "image/jpeg")})
    assert r.status_code == 202
    created = r.json()
    assert created["status"] == "pending"
    body = _wait_until_finished(api, created["url"])
    assert body["status"] == "done", body
    assert body["label"] == "dog"
    assert set(body["probabilities"]) == {"cat", "dog"}
