"""The review queue's admin pages (classifier/admin/review.py): staff with the right to change reviews see every
owner's consenting photos; decisions, bulk accept, undo and "New version from the review queue" are POSTs."""

import html as html_module
import re

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.actions import do_set_corrections_consent
from classifier.actions import do_delete_prediction, do_review
from classifier.heatmaps import stored_grid
from classifier.models import Prediction, Review
from trainer.models import Dataset, DatasetImage

from .dataset_helpers import class_folders, zip_bytes
from .page_helpers import _page
from .review_helpers import allow, answered

pytest_plugins = ["tests.dataset_fixtures", "tests.review_fixtures"]
pytestmark = pytest.mark.django_db

QUEUE = "/admin/classifier/review/"
DECIDE = reverse("admin:classifier_review_decide")
BULK = reverse("admin:classifier_review_bulk_accept")
UNDO = reverse("admin:classifier_review_undo")
DERIVE = reverse("admin:classifier_review_derive")
DECIDED = reverse("admin:classifier_review_decided")


def _text(html: str) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _listed(page) -> list[int]:
    return [int(item["data-prediction"]) for item in page.find("li", data_review_item=True)]


@pytest.fixture
def reviewer_client(client, django_user_model):
    """Staff who may change reviews, and nothing else: no superuser."""
    staff = django_user_model.objects.create_user(username="rita", password="correct horse battery", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_review"))
    client.force_login(staff)
    client.user = staff
    return client


def test_the_queue_is_linked_from_the_admin_index(admin_client):
    assert reverse("admin:classifier_review_changelist") == QUEUE
    _, page = _page(admin_client.get(reverse("admin:index")))
    assert page.find("a", href=QUEUE)


def test_staff_who_may_only_view_reviews_get_no_link_and_no_queue(client, django_user_model):
    staff = django_user_model.objects.create_user(username="vic", password="correct horse battery", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_review"))
    client.force_login(staff)
    _, page = _page(client.get(reverse("admin:index")))
    assert not page.find("a", href=QUEUE)
    assert client.get(QUEUE).status_code == 403


def test_the_queue_shows_every_consenting_owners_items_in_order(reviewer_client, owner, other_user, pets):
    allow(other_user)
    theirs = answered(other_user, pets, {"cat": 0.95, "dog": 0.05}, feedback="dog")
    mine = answered(owner, pets, {"cat": 0.55, "dog": 0.45}, feedback="cat")
    r = reviewer_client.get(QUEUE)
    assert r.status_code == 200
    html, page = _page(r)
    assert _listed(page) == [theirs.pk, mine.pk]
    text = _text(html)
    assert "The owner said: dog" in text and "The owner gave no feedback." not in text
    assert "feedback disagrees" in text
    for shortcut in ("a", "r", "s", "j / k", "1–9", "0"):
        assert page.find("kbd") and f"{shortcut}" in text
    assert page.find("script", src="/static/js/admin/review-queue.js")
    assert page.find("img", src=reverse("admin:classifier_review_thumbnail", args=[theirs.pk]))
    # The owner's label is chosen, ready for one key or click.
    assert page.find("input", type="radio", name="label", value="dog", checked=True, data_key="2")
    assert page.find("input", type="radio", name="label", value="other", data_key="0")


def test_the_heatmap_is_laid_over_the_photo(reviewer_client, owner, pets):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    Prediction.objects.filter(pk=prediction.pk).update(heatmap_grid=stored_grid(np.eye(7)))
    _, page = _page(reviewer_client.get(QUEUE))
    url = reverse("admin:classifier_review_heatmap", args=[prediction.pk])
    assert page.find("img", src=f"{url}?overlay=1", data_heatmap=True)
    r = reviewer_client.get(url, {"overlay": "1"})
    assert r.status_code == 200 and r["Content-Type"] == "image/png"


def test_the_photo_and_thumbnail_answer_for_the_reviewer(reviewer_client, owner, pets):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    for name in ("photo", "thumbnail"):
        r = reviewer_client.get(reverse(f"admin:classifier_review_{name}", args=[prediction.pk]))
        assert r.status_code == 200


def test_the_photos_of_owners_who_did_not_allow_it_are_not_served_unless_decided_on(reviewer_client, alice, pets):
    hidden = answered(alice, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    allow(alice)
    decided = answered(alice, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    do_review(decided, "accepted", "dog", by=None)
    do_set_corrections_consent(alice, False)  # withdrawn since: the decided list still shows the decision
    for name in ("photo", "thumbnail"):
        assert reviewer_client.get(reverse(f"admin:classifier_review_{name}", args=[hidden.pk])).status_code == 404
        assert reviewer_client.get(reverse(f"admin:classifier_review_{name}", args=[decided.pk])).status_code == 200


def test_the_page_says_how_many_were_left_out_without_showing_them(reviewer_client, alice, pets):
    hidden = answered(alice, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    html, page = _page(reviewer_client.get(QUEUE))
    assert _listed(page) == []
    assert "1 more prediction would deserve review, but its owner has not allowed" in _text(html)
    assert hidden.original_name not in html


def test_showing_the_pages_writes_nothing(reviewer_client, owner, pets):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    do_review(answered(owner, pets, {"cat": 0.5, "dog": 0.5}), "accepted", "cat", by=None)
    for url in (QUEUE, DECIDED, reverse("admin:classifier_review_photo", args=[prediction.pk])):
        with CaptureQueriesContext(connection) as queries:
            assert reviewer_client.get(url).status_code == 200
        writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
        assert writes == []


@pytest.mark.parametrize("url", [QUEUE, DECIDED])
def test_a_page_takes_as_many_queries_for_ten_items_as_for_one(reviewer_client, owner, pets, url):
    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert reviewer_client.get(url).status_code == 200
        return len(queries)

    def add_items(n: int) -> None:
        for _ in range(n):
            prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
            if url == DECIDED:
                do_review(prediction, "accepted", "dog", by=reviewer_client.user)

    add_items(1)
    one = queries_for_the_page()
    add_items(9)
    assert queries_for_the_page() == one


@pytest.mark.parametrize("url", [DECIDE, BULK, UNDO, DERIVE])
def test_the_changes_are_post_only(reviewer_client, url):
    assert reviewer_client.get(url).status_code == 405


def test_non_staff_are_sent_to_log_in_and_staff_without_the_right_get_403(client, alice, django_user_model, pets):
    prediction = answered(alice, pets, {"cat": 0.5, "dog": 0.5})
    client.force_login(alice)
    r = client.get(QUEUE)
    assert r.status_code == 302 and r["Location"].startswith("/admin/login/")
    assert client.post(DECIDE, {"prediction": prediction.pk, "decision": "rejected"}).status_code == 302
    staff = django_user_model.objects.create_user(username="sid", password="correct horse battery", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    client.force_login(staff)
    assert client.get(QUEUE).status_code == 403
    assert client.post(DECIDE, {"prediction": prediction.pk, "decision": "rejected"}).status_code == 403
    assert client.get(reverse("admin:classifier_review_photo", args=[prediction.pk])).status_code == 403
    assert not Review.objects.exists()


def test_a_decision_takes_it_out_and_comes_back_at_the_next_item(reviewer_client, owner, pets):
    first = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    second = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    back = f"{QUEUE}?class=cat"
    r = reviewer_client.post(
        DECIDE, {"prediction": first.pk, "decision": "accepted", "label": "dog", "back": back, "next": second.pk}
    )
    assert r.status_code == 302
    assert r["Location"] == f"{back}#item-{second.pk}"
    review = Review.objects.get(prediction=first)
    assert (review.decision, review.label, review.decided_by) == ("accepted", "dog", reviewer_client.user)
    html, page = _page(reviewer_client.get(QUEUE))
    assert _listed(page) == [second.pk]
    assert f"Accepted {first.original_name} as “dog”." in _text(html)


def test_a_refused_decision_is_said_and_stores_nothing(reviewer_client, alice, pets):
    prediction = answered(alice, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")  # no consent
    r = reviewer_client.post(DECIDE, {"prediction": prediction.pk, "decision": "accepted", "label": "dog"}, follow=True)
    assert "has not allowed their corrected photos to be used: it cannot be accepted." in _text(r.content.decode())
    assert not Review.objects.exists()


def test_the_way_back_never_leaves_the_queue(reviewer_client, owner, pets):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    r = reviewer_client.post(
        DECIDE, {"prediction": prediction.pk, "decision": "skipped", "back": "https://evil.example/"}
    )
    assert r["Location"] == QUEUE


def test_an_unknown_prediction_is_404(reviewer_client):
    assert reviewer_client.post(DECIDE, {"prediction": "999999", "decision": "rejected"}).status_code == 404
    assert reviewer_client.post(DECIDE, {"decision": "rejected"}).status_code == 404


def test_bulk_accept_accepts_the_selected_owners_labels(reviewer_client, owner, pets):
    dog = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    cat = answered(owner, pets, {"cat": 0.1, "dog": 0.9}, feedback="cat")
    left = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="cat")
    r = reviewer_client.post(BULK, {"prediction": [dog.pk, cat.pk], "back": QUEUE}, follow=True)
    html, page = _page(r)
    assert "Accepted 2 photos: 1 as “cat”, 1 as “dog”." in _text(html)
    assert _listed(page) == [left.pk]


def test_bulk_accept_refused_says_why_and_accepts_none(reviewer_client, owner, pets):
    dog = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    without = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    r = reviewer_client.post(BULK, {"prediction": [dog.pk, without.pk]}, follow=True)
    assert f"Nothing was accepted. {without.original_name} (#{without.pk}) has no feedback to accept" in _text(
        r.content.decode()
    )
    assert not Review.objects.exists()


def test_the_decided_list_undoes_a_decision(reviewer_client, owner, pets):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    do_review(prediction, "rejected", by=None)
    html, page = _page(reviewer_client.get(DECIDED))
    assert page.find("tr", data_prediction=str(prediction.pk))
    r = reviewer_client.post(UNDO, {"prediction": prediction.pk, "back": DECIDED})
    assert r["Location"] == DECIDED
    assert not Review.objects.exists()
    _, page = _page(reviewer_client.get(QUEUE))
    assert _listed(page) == [prediction.pk]


# --- New version from the review queue ----------------------------------------------------------------------


@pytest.fixture
def deriver_client(reviewer_client):
    for codename in ("add_dataset", "view_dataset"):
        reviewer_client.user.user_permissions.add(Permission.objects.get(codename=codename))
    return reviewer_client


@pytest.fixture
def parent(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 5, "dog": 5})))


def test_the_accepted_photos_become_a_new_version_for_training(deriver_client, owner, pets, parent):
    assert parent.status == Dataset.Status.READY
    cat = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="cat")
    dog = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    none = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, verdict="other", feedback="other")
    rejected = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    for prediction in (cat, dog, none):
        do_review(prediction, "accepted", prediction.feedback_label, by=None)
    do_review(rejected, "rejected", by=None)
    html, page = _page(deriver_client.get(QUEUE))
    assert "2 accepted photos can go into a new version, for training (never into its test split): 1 cat, 1 dog" in (
        _text(html)
    )
    assert page.find("option", value=str(parent.pk))

    r = deriver_client.post(DERIVE, {"parent": parent.pk, "name": "pets reviewed"}, follow=True)
    version = Dataset.objects.get(name="pets reviewed")
    assert r.redirect_chain == [(reverse("admin:trainer_dataset_change", args=[version.pk]), 302)]
    text = _text(r.content.decode())
    assert "Made pets reviewed: 2 accepted photos added for training (cat: 1, dog: 1)." in text
    assert "1 accepted as “None of these” are never a class's training photo." in text
    assert version.parent == parent and version.created_by == deriver_client.user
    new = DatasetImage.objects.filter(dataset=version, origin__startswith="review queue")
    assert sorted(new.values_list("label", "split")) == [("cat", "train"), ("dog", "train")]
    # The parent's test split, frozen now, is inherited: every photo of the parent, with its split.
    inherited = DatasetImage.objects.filter(dataset=version).exclude(origin__startswith="review queue")
    assert inherited.count() == 10 and inherited.filter(split="test").count() == 2
    assert set(inherited.values_list("sha256", flat=True)) == set(parent.images.values_list("sha256", flat=True))

    # The version keeps its own copy: deleting the predictions leaves its files in storage.
    for prediction in (cat, dog):
        do_delete_prediction(Prediction.objects.get(pk=prediction.pk))
    for image in new:
        assert default_storage.exists(image.file.name)
    assert not Prediction.objects.filter(pk__in=[cat.pk, dog.pk]).exists()


def test_photos_already_in_the_dataset_are_left_out_and_said(deriver_client, owner, pets, parent):
    cat = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="cat")
    do_review(cat, "accepted", "cat", by=None)
    first = deriver_client.post(DERIVE, {"parent": parent.pk, "name": "v2"})
    assert first.status_code == 302
    dog = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    do_review(dog, "accepted", "dog", by=None)
    r = deriver_client.post(DERIVE, {"parent": Dataset.objects.get(name="v2").pk, "name": "v3"}, follow=True)
    text = _text(r.content.decode())
    assert "Made v3: 1 accepted photo added for training (dog: 1). Left out: 1 already in v2." in text


def test_nothing_to_add_is_refused_and_said(deriver_client, owner, pets, parent):
    cat = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="cat")
    do_review(cat, "accepted", "cat", by=None)
    deriver_client.post(DERIVE, {"parent": parent.pk, "name": "v2"})
    v2 = Dataset.objects.get(name="v2")
    r = deriver_client.post(DERIVE, {"parent": v2.pk, "name": "again"}, follow=True)
    assert r.redirect_chain == [(QUEUE, 302)]
    said = f"No version was made: Nothing would be added to v2: review queue: prediction {cat.pk} ({cat.original_name})"
    assert f"{said}: already in v2." in _text(r.content.decode())
    assert not Dataset.objects.filter(name="again").exists()


def test_a_taken_name_or_a_dataset_not_ready_is_refused(deriver_client, owner, pets, parent):
    do_review(answered(owner, pets, {"cat": 0.5, "dog": 0.5}), "accepted", "cat", by=None)
    r = deriver_client.post(DERIVE, {"parent": parent.pk, "name": "pets"}, follow=True)
    assert "No version was made: A dataset is already named “pets”" in _text(r.content.decode())
    Dataset.objects.filter(pk=parent.pk).update(status=Dataset.Status.FAILED)
    r = deriver_client.post(DERIVE, {"parent": parent.pk}, follow=True)
    assert "No version was made: Select a valid choice." in _text(r.content.decode())
    assert Dataset.objects.count() == 1


def test_photos_whose_owner_withdrew_consent_are_left_out(deriver_client, owner, other_user, pets, parent):
    from accounts.actions import do_set_corrections_consent

    allow(other_user)
    mine = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    theirs = answered(other_user, pets, {"cat": 0.5, "dog": 0.5})
    do_review(mine, "accepted", "cat", by=None)
    do_review(theirs, "accepted", "dog", by=None)
    do_set_corrections_consent(other_user, False)
    r = deriver_client.post(DERIVE, {"parent": parent.pk, "name": "v2"}, follow=True)
    assert "1 whose owners no longer allow their use were left out." in _text(r.content.decode())
    assert Dataset.objects.get(name="v2").added["counts"] == {"cat": 1}


def test_making_a_version_needs_the_right_to_add_datasets(reviewer_client, owner, pets, parent):
    do_review(answered(owner, pets, {"cat": 0.5, "dog": 0.5}), "accepted", "cat", by=None)
    assert reviewer_client.post(DERIVE, {"parent": parent.pk}).status_code == 403
    assert "Making a version needs the right to add datasets." in _text(reviewer_client.get(QUEUE).content.decode())
    assert Dataset.objects.count() == 1


def test_the_pages_keep_the_filters(reviewer_client, owner, pets):
    from classifier.admin.review import PER_PAGE

    items = [answered(owner, pets, {"cat": 0.5, "dog": 0.5}, age_hours=PER_PAGE - n) for n in range(PER_PAGE + 1)]
    _, page = _page(reviewer_client.get(QUEUE, {"class": "cat", "version": pets.pk}))
    assert len(_listed(page)) == PER_PAGE
    assert page.find("a", href=f"?class=cat&version={pets.pk}&page=2", rel="next")
    _, page = _page(reviewer_client.get(QUEUE, {"class": "cat", "version": pets.pk, "page": 2}))
    assert _listed(page) == [items[-1].pk]


def test_without_a_ready_dataset_of_those_classes_the_page_says_so(deriver_client, owner, pets, make_dataset):
    make_dataset("birds", archive=zip_bytes(class_folders({"bird": 3, "fish": 3})))
    do_review(answered(owner, pets, {"cat": 0.5, "dog": 0.5}), "accepted", "cat", by=None)
    html, page = _page(deriver_client.get(QUEUE))
    assert not page.find("form", data_derive_form=True)
    assert "No ready dataset has the classes of these photos" in _text(html)
