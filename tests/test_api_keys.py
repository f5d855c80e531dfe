"""API keys made on the settings page: shown once, kept as a digest, accepted by the API until revoked or
expired, each refusal saying why; last use written at most once a minute."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.actions import do_create_api_key, do_revoke_api_key
from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def _api(key: str, keyword: str = "Api-Key") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
    return client


def test_the_page_makes_a_key_shows_it_once_and_keeps_only_its_digest(client, user):
    client.force_login(user)
    r = client.post(reverse("api_keys"), {"name": "backup script", "expires_on": ""})
    assert r.status_code == 201
    key = re.search(r"data-key-value>([^<]+)<", r.content.decode()).group(1)
    stored = ApiKey.objects.get(user=user)
    assert stored.name == "backup script" and stored.expires_at is None
    assert key.startswith(f"cdk_{stored.prefix}_")
    assert key not in stored.digest and stored.digest != key
    assert _api(key).get("/api/predictions/").status_code == 200

    listing = client.get(reverse("api_keys")).content.decode()
    assert "backup script" in listing and f"cdk_{stored.prefix}_" in listing
    assert key not in listing  # shown once only


def test_showing_the_page_writes_nothing(client, user):
    do_create_api_key(user, "old")
    client.force_login(user)
    before = list(ApiKey.objects.values())
    assert client.get(reverse("api_keys")).status_code == 200
    assert list(ApiKey.objects.values()) == before


@pytest.mark.parametrize("keyword", ["Api-Key", "Bearer", "bearer"])
def test_a_key_authenticates_the_api_in_either_form(user, make_prediction, keyword):
    prediction = make_prediction()
    _, key = do_create_api_key(user, "ci")
    r = _api(key, keyword).get("/api/predictions/")
    assert r.status_code == 200
    assert [item["id"] for item in r.json()["results"]] == [prediction.pk]


def test_a_revoked_key_is_refused_saying_so(client, user):
    api_key, key = do_create_api_key(user, "laptop")
    client.force_login(user)
    r = client.post(reverse("revoke_api_key", args=[api_key.pk]))
    assert r.status_code == 302
    r = _api(key).get("/api/predictions/")
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]


def test_an_expired_key_is_refused_saying_so(user):
    _, key = do_create_api_key(user, "short-lived", expires_at=timezone.now() - timedelta(seconds=1))
    r = _api(key).get("/api/predictions/")
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


def test_a_key_before_its_expiry_works(user):
    _, key = do_create_api_key(user, "short-lived", expires_at=timezone.now() + timedelta(hours=1))
    assert _api(key).get("/api/predictions/").status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda key: "cdk_00000000_" + key.rsplit("_", 1)[1],  # unknown prefix
        lambda key: "not-a-key",
    ],
)
def test_a_wrong_key_is_refused(user, mangle):
    _, key = do_create_api_key(user, "ci")
    r = _api(mangle(key)).get("/api/predictions/")
    assert r.status_code == 401
    assert r.json()["detail"] == "Invalid API key."


def test_another_users_key_cannot_be_revoked(client, user, other_user):
    api_key, key = do_create_api_key(other_user, "theirs")
    client.force_login(user)
    assert client.post(reverse("revoke_api_key", args=[api_key.pk])).status_code == 404
    assert _api(key).get("/api/predictions/").status_code == 200


def test_revoking_is_a_post(client, user):
    api_key, _ = do_create_api_key(user, "laptop")
    client.force_login(user)
    assert client.get(reverse("revoke_api_key", args=[api_key.pk])).status_code == 405
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "", "expires_on": ""}, "name"),
        ({"name": "x", "expires_on": "2001-01-01"}, "expires_on"),
        ({"name": "x", "expires_on": "soon"}, "expires_on"),
    ],
)
def test_the_page_refuses_a_bad_key_request(client, user, fields, field):
    client.force_login(user)
    r = client.post(reverse("api_keys"), fields)
    assert r.status_code == 400
    assert field in r.context["form"].errors
    assert not ApiKey.objects.exists()


def test_the_expiry_day_is_kept(client, user):
    client.force_login(user)
    day = (timezone.now() + timedelta(days=30)).date()
    assert client.post(reverse("api_keys"), {"name": "x", "expires_on": day.isoformat()}).status_code == 201
    assert ApiKey.objects.get().expires_at.date() == day


def test_last_use_is_written_at_most_once_a_minute(user):
    api_key, key = do_create_api_key(user, "ci")
    client = _api(key)
    client.get("/api/predictions/")
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    client.get("/api/predictions/")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get("/api/predictions/")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first


def test_a_second_call_within_the_minute_makes_no_write(user):
    api_key, key = do_create_api_key(user, "ci")
    client = _api(key)
    client.get("/api/predictions/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/predictions/")
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]


def test_revoking_twice_changes_nothing(user):
    api_key, _ = do_create_api_key(user, "x")
    assert do_revoke_api_key(api_key)
    first = ApiKey.objects.get().revoked_at
    assert not do_revoke_api_key(api_key)
    assert ApiKey.objects.get().revoked_at == first


def test_the_token_of_api_token_still_works(user):
    token = APIClient().post("/api/token/", {"username": "alice", "password": "correct horse battery"}).json()["token"]
    assert _api(token, "Token").get("/api/predictions/").status_code == 200
