"""A person deletes their account and everything in it, after giving their password: their photos (every stored
file, on local disk and in an S3-compatible store), predictions, feedback, settings, API tokens and keys,
webhooks; another person's stay. A wrong or missing password, a GET and the site's last superuser delete nothing."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.actions import do_create_api_key, do_delete_account, do_set_corrections_consent
from accounts.models import ApiKey, Profile
from classifier.actions import do_give_feedback
from classifier.models import Feedback, Prediction
from webhooks.models import Webhook

from .dataset_helpers import media_files
from .heatmap_helpers import as_answered_before_grids
from .page_helpers import _page

pytest_plugins = ["tests.s3", "tests.heatmap_fixtures"]
pytestmark = pytest.mark.django_db

DELETE = "/accounts/delete/"
PASSWORD = "correct horse battery"  # the password of tests/conftest.py's users


@pytest.fixture
def belongings(user, other_user, answered):
    """Alice's photos (one answered before heatmap grids, with its heatmap file), her feedback, settings, API token
    and key, and webhook; and a photo of Mallory's."""
    mine = [answered(), as_answered_before_grids(answered())]
    do_give_feedback(mine[0], user, "dog")
    do_set_corrections_consent(user, True)
    Token.objects.create(user=user)
    do_create_api_key(user, "script")
    Webhook.objects.create(owner=user, url="https://example.org/hook", secret="s")
    theirs = answered(owner=other_user)
    return mine, theirs


def _files(*predictions) -> set[str]:
    names = {name for p in predictions for name in (p.image.name, p.thumbnail.name, p.heatmap.name)}
    return names - {""}


def test_the_settings_page_leads_to_the_deletion_page_which_deletes_nothing(alice_client, alice):
    assert reverse("delete_account") == DELETE
    html, page = _page(alice_client.get(reverse("account_settings")))
    assert page.find("a", href=DELETE, data_delete_account_link=True)
    r = alice_client.get(DELETE)
    assert r.status_code == 200
    assert _page(r)[1].find("input", type="password", name="password")
    assert get_user_model().objects.filter(pk=alice.pk).exists()


def test_deleting_the_account_deletes_everything_in_it_and_every_file(
    stored, alice_client, alice, other_user, belongings, django_capture_on_commit_callbacks
):
    mine, theirs = belongings
    assert stored() == _files(*mine, theirs)
    assert len(_files(*mine)) == 5  # two photos and two thumbnails, one heatmap file

    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(DELETE, {"password": PASSWORD})

    assert r.status_code == 302 and r["Location"] == reverse("login")
    assert not get_user_model().objects.filter(pk=alice.pk).exists()
    assert list(Prediction.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert not Feedback.objects.exists()
    assert not Profile.objects.filter(user_id=alice.pk).exists()
    assert not Token.objects.filter(user_id=alice.pk).exists()
    assert not ApiKey.objects.filter(user_id=alice.pk).exists()
    assert not Webhook.objects.filter(owner_id=alice.pk).exists()
    assert stored() == _files(theirs)  # no file of hers left behind
    followed = alice_client.get(r["Location"])
    assert "The account alice and everything in it were deleted." in followed.content.decode()
    assert not followed.wsgi_request.user.is_authenticated


@pytest.mark.parametrize(
    "data, message",
    [({"password": "wrong"}, "That is not your password: nothing was deleted."), ({}, "Enter your password")],
)
def test_without_the_right_password_nothing_is_deleted(alice_client, alice, make_prediction, settings, data, message):
    prediction = make_prediction()
    files = media_files(settings)
    r = alice_client.post(DELETE, data)
    assert r.status_code == 400
    assert message in r.content.decode()
    assert Prediction.objects.filter(pk=prediction.pk).exists()
    assert media_files(settings) == files


def test_guessing_the_password_is_limited_as_log_ins_are(alice_client, alice, settings):
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "2/h"
    assert [alice_client.post(DELETE, {"password": f"guess{n}"}).status_code for n in range(3)] == [400, 400, 429]
    assert alice_client.post(DELETE, {"password": PASSWORD}).status_code == 429
    assert get_user_model().objects.filter(pk=alice.pk).exists()


def test_deleting_needs_a_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(DELETE, {"password": PASSWORD}).status_code == 403
    assert get_user_model().objects.filter(pk=alice.pk).exists()


def test_the_last_superuser_cannot_delete_their_account(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    django_user_model.objects.create_superuser(username="retired", password=PASSWORD, is_active=False)
    client.force_login(admin)
    r = client.post(DELETE, {"password": PASSWORD})
    assert r.status_code == 400
    html, page = _page(r)
    assert page.find("div", data_delete_refused=True)
    assert "last administrator" in html
    assert django_user_model.objects.filter(pk=admin.pk).exists()


def test_a_superuser_may_go_when_another_remains(django_user_model):
    admin = django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    django_user_model.objects.create_superuser(username="deputy", password=PASSWORD)
    do_delete_account(admin)
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["deputy"]
