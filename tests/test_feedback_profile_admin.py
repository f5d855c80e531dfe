"""Feedback and people's settings in the admin: listed, filtered and searched, read-only (feedback is its owner's
word, and the corrections setting theirs alone to change)."""

import pytest
from django.urls import reverse

from accounts.actions import do_set_corrections_consent
from accounts.models import Profile
from classifier.models import Feedback

from .page_helpers import _done, _page

pytestmark = pytest.mark.django_db


@pytest.fixture
def feedback(alice, model_version):
    prediction = _done(alice, model_version, label="cat", verdict="cat", name="Tom on the sofa.png")
    return Feedback.objects.create(prediction=prediction, label="dog", given_by=alice)


def test_feedback_is_listed_with_the_answer_beside_it(admin_client, feedback):
    html, page = _page(admin_client.get(reverse("admin:classifier_feedback_changelist")))
    assert "Tom on the sofa.png" in html
    assert page.find("a", href=reverse("admin:classifier_prediction_change", args=[feedback.prediction_id]))
    assert '<td class="field-label">dog</td>' in html and '<td class="field-answered">cat</td>' in html


def test_feedback_is_searched_and_filtered(admin_client, feedback):
    url = reverse("admin:classifier_feedback_changelist")
    assert "Tom on the sofa.png" in admin_client.get(url, {"q": "alice"}).content.decode()
    assert "Tom on the sofa.png" not in admin_client.get(url, {"q": "nobody"}).content.decode()
    assert "Tom on the sofa.png" in admin_client.get(url, {"label": "dog"}).content.decode()
    assert "Tom on the sofa.png" not in admin_client.get(url, {"label": "cat"}).content.decode()


def test_feedback_cannot_be_added_or_edited(admin_client, feedback):
    assert admin_client.get(reverse("admin:classifier_feedback_add")).status_code == 403
    url = reverse("admin:classifier_feedback_change", args=[feedback.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page
    assert admin_client.post(url, {"label": "cat"}).status_code == 403
    feedback.refresh_from_db()
    assert feedback.label == "dog"


def test_profiles_are_listed_filtered_and_read_only(admin_client, alice, other_user):
    do_set_corrections_consent(alice, True)
    do_set_corrections_consent(other_user, False)  # never on: no profile is made
    Profile.objects.get_or_create(user=other_user)
    url = reverse("admin:accounts_profile_changelist")
    allowed = admin_client.get(url, {"corrections_may_be_used__exact": "1"}).content.decode()
    assert "Settings of alice" in allowed and "Settings of mallory" not in allowed
    assert "Settings of mallory" in admin_client.get(url, {"q": "mallory"}).content.decode()
    assert admin_client.get(reverse("admin:accounts_profile_add")).status_code == 403
    change = reverse("admin:accounts_profile_change", args=[Profile.objects.get(user=alice).pk])
    assert admin_client.post(change, {"corrections_may_be_used": ""}).status_code == 403
    assert Profile.objects.get(user=alice).corrections_may_be_used
