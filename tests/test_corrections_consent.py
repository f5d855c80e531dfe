"""The setting "My corrected photos may be used to improve the model": off by default, explained on the page,
changed only by a POST, with the time of its last change recorded."""

import html as html_module
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile, may_use_corrections

from .page_helpers import _page

pytestmark = pytest.mark.django_db

SETTINGS = reverse("account_settings")
FIELD = "corrections_may_be_used"


def _text(html: str) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_it_is_off_by_default_and_showing_it_writes_nothing(alice_client, alice):
    with CaptureQueriesContext(connection) as queries:
        r = alice_client.get(SETTINGS)
    assert r.status_code == 200
    assert [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")] == []
    _, page = _page(r)
    [checkbox] = page.find("input", type="checkbox", name=FIELD)
    assert "checked" not in checkbox
    assert not may_use_corrections(alice)
    assert not Profile.objects.exists()


def test_the_page_explains_what_it_allows(alice_client):
    text = _text(alice_client.get(SETTINGS).content.decode())
    assert "My corrected photos may be used to improve the model" in text
    assert "an administrator may add the photos you corrected to a training dataset, after reviewing them" in text
    assert "It is off unless you turn it on, and you can turn it off at any time" in text
    assert "only ever used once an administrator has looked at it in the review queue and accepted it" in text
    assert "Deleting a photo removes it from the review queue" in text
    assert "A dataset version that already contains it keeps a copy of it, even after you delete the photo" in text
    assert "Off: you have never turned it on." in text


def test_turning_it_on_is_saved_with_its_time_and_said(alice_client, alice):
    before = timezone.now()
    r = alice_client.post(SETTINGS, {FIELD: "on"}, follow=True)
    assert r.redirect_chain == [(SETTINGS, 302)]
    assert may_use_corrections(alice)
    changed_at = Profile.objects.get(user=alice).corrections_changed_at
    assert before <= changed_at <= timezone.now()
    html, page = _page(r)
    assert "Saved: the photos you corrected may be used to improve the model." in _text(html)
    [checkbox] = page.find("input", type="checkbox", name=FIELD)
    assert "checked" in checkbox
    assert page.find("time", datetime=changed_at.isoformat())


def test_turning_it_off_again_records_the_new_time(alice_client, alice):
    alice_client.post(SETTINGS, {FIELD: "on"})
    Profile.objects.filter(user=alice).update(corrections_changed_at=timezone.now() - timedelta(days=3))
    r = alice_client.post(SETTINGS, {}, follow=True)
    assert not may_use_corrections(alice)
    assert Profile.objects.get(user=alice).corrections_changed_at > timezone.now() - timedelta(minutes=1)
    assert "Saved: the photos you corrected will not be used to improve the model." in _text(r.content.decode())


def test_saving_the_same_choice_keeps_the_time_it_was_made(alice_client, alice):
    alice_client.post(SETTINGS, {FIELD: "on"})
    made = timezone.now() - timedelta(days=3)
    Profile.objects.filter(user=alice).update(corrections_changed_at=made)
    alice_client.post(SETTINGS, {FIELD: "on"})
    assert Profile.objects.get(user=alice).corrections_changed_at == made


def test_each_person_has_their_own_setting(alice_client, alice, other_user):
    alice_client.post(SETTINGS, {FIELD: "on"})
    assert may_use_corrections(alice)
    assert not may_use_corrections(other_user)


def test_the_form_needs_its_csrf_token(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(SETTINGS, {FIELD: "on"}).status_code == 403
    assert not may_use_corrections(alice)


def test_it_needs_a_login(client):
    r = client.get(SETTINGS)
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))
    assert client.post(SETTINGS, {FIELD: "on"}).status_code == 302
    assert not Profile.objects.exists()


def test_the_account_link_in_the_header_leads_to_the_settings(alice_client):
    _, page = _page(alice_client.get(reverse("classifier:history")))
    assert page.find("a", href=SETTINGS, title="Signed in as alice · settings")
    _, page = _page(alice_client.get(SETTINGS))
    assert page.find("a", href=reverse("password_change"))


def test_deleting_the_person_deletes_their_setting(alice_client, alice):
    alice_client.post(SETTINGS, {FIELD: "on"})
    alice.delete()
    assert not Profile.objects.exists()
