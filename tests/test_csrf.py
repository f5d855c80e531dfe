"""Every state-changing form refuses a POST without the CSRF token (403, nothing changes) and accepts it
with the token; so does the API when it is called with the session cookie instead of a token."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from classifier.models import Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def alices_client(csrf_client, user):
    csrf_client.force_login(user)
    return csrf_client


def _post_both_ways(client, page, url, data=dict):
    """POSTs `data()` without the token, then (after showing `page`, which sets the cookie) with it."""
    refused = client.post(url, data())
    assert refused.status_code == 403
    assert b"This form has expired" in refused.content  # templates/403_csrf.html, not a bare error
    assert client.get(page).status_code == 200
    token = client.cookies["csrftoken"].value
    return client.post(url, {**data(), "csrfmiddlewaretoken": token})


def _logged_in(client):
    return "_auth_user_id" in client.session


def test_log_in(csrf_client, user):
    def data():
        return {"username": "alice", "password": "correct horse battery"}

    r = _post_both_ways(csrf_client, reverse("login"), reverse("login"), data)
    assert r.status_code == 302
    assert _logged_in(csrf_client)


def test_the_admin_log_in(csrf_client, user):
    def data():
        return {"username": "alice", "password": "correct horse battery"}

    r = _post_both_ways(csrf_client, reverse("admin:login"), reverse("admin:login"), data)
    assert r.status_code == 200  # alice is not staff: the form again, but the token was accepted
    assert b"CSRF" not in r.content


def test_sign_up(csrf_client):
    def data():
        return {"username": "newbie", "password1": "a long pass phrase 42", "password2": "a long pass phrase 42"}

    refused = csrf_client.post(reverse("signup"), data())
    assert refused.status_code == 403
    assert not get_user_model().objects.filter(username="newbie").exists()
    r = _post_both_ways(csrf_client, reverse("signup"), reverse("signup"), data)
    assert r.status_code == 302
    assert get_user_model().objects.filter(username="newbie").exists()


def test_log_out(alices_client):
    refused = alices_client.post(reverse("logout"))
    assert refused.status_code == 403
    assert _logged_in(alices_client)
    r = _post_both_ways(alices_client, reverse("classifier:history"), reverse("logout"))
    assert r.status_code == 302
    assert not _logged_in(alices_client)


def test_password_change(alices_client, user):
    def data():
        return {
            "old_password": "correct horse battery",
            "new_password1": "brand new phrase 77",
            "new_password2": "brand new phrase 77",
        }

    refused = alices_client.post(reverse("password_change"), data())
    assert refused.status_code == 403
    user.refresh_from_db()
    assert user.check_password("correct horse battery")
    r = _post_both_ways(alices_client, reverse("password_change"), reverse("password_change"), data)
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand new phrase 77")


def test_upload(alices_client):
    def data():
        return {"images": [upload("a.png", image_bytes())]}

    url = reverse("classifier:upload")
    assert alices_client.post(url, data()).status_code == 403
    assert not Prediction.objects.exists()
    r = _post_both_ways(alices_client, url, url, data)
    assert r.status_code == 302
    assert Prediction.objects.count() == 1


def test_delete(alices_client, make_prediction):
    prediction = make_prediction()
    page = reverse("classifier:detail", args=[prediction.pk])
    r = _post_both_ways(alices_client, page, reverse("classifier:delete", args=[prediction.pk]))
    assert r.status_code == 302
    assert not Prediction.objects.exists()


def test_retry(alices_client, make_prediction, django_capture_on_commit_callbacks):
    prediction = make_prediction(status=Prediction.Status.FAILED, error="boom")
    page = reverse("classifier:detail", args=[prediction.pk])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = _post_both_ways(alices_client, page, reverse("classifier:retry", args=[prediction.pk]))
    assert r.status_code == 302
    assert len(callbacks) == 1  # the retry, and only it, queued the task
    prediction.refresh_from_db()
    # Tasks are eager and no model is active: the task really ran again on the re-queued prediction.
    assert prediction.attempts == 1
    assert prediction.error.startswith("No model is active yet")


def test_a_refused_delete_or_retry_changes_nothing(alices_client, make_prediction):
    prediction = make_prediction(status=Prediction.Status.FAILED, error="boom")
    for name in ("classifier:delete", "classifier:retry"):
        assert alices_client.post(reverse(name, args=[prediction.pk])).status_code == 403
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.image.storage.exists(prediction.image.name)


def test_the_api_with_the_session_cookie_needs_the_token(alices_client, make_prediction):
    prediction = make_prediction()
    detail = reverse("api:prediction-detail", args=[prediction.pk])
    create = reverse("api:prediction-list")
    assert alices_client.get(detail).status_code == 200  # reading needs no token
    assert alices_client.delete(detail).status_code == 403
    assert alices_client.post(create, {"image": upload("a.png", image_bytes())}).status_code == 403
    assert Prediction.objects.count() == 1

    alices_client.get(reverse("classifier:upload"))
    header = {"HTTP_X_CSRFTOKEN": alices_client.cookies["csrftoken"].value}
    assert alices_client.post(create, {"image": upload("a.png", image_bytes())}, **header).status_code == 202
    assert alices_client.delete(detail, **header).status_code == 204
    assert list(Prediction.objects.values_list("original_name", flat=True)) == ["a.png"]


def test_the_api_with_a_token_needs_no_csrf_token(csrf_client, user):
    """A token is not sent by the browser on its own, so it cannot be forged across sites."""
    token = Token.objects.create(user=user)
    r = csrf_client.post(
        reverse("api:prediction-list"),
        {"image": upload("a.png", image_bytes())},
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert r.status_code == 202
