"""The review queue's decisions (classifier/actions/review.py): do_review and do_bulk_accept, and every refusal, each
a ReviewRefused with a sentence the admin can act on, storing nothing."""

import pytest

from classifier.actions import ReviewRefused, do_bulk_accept, do_review
from classifier.models import Feedback, Prediction, Review

from .review_helpers import allow, answered

pytest_plugins = ["tests.review_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", ["cat", "dog", "other"])
def test_it_accepts_a_class_of_the_answering_version_or_other(owner, pets, admin_user, label):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    review = do_review(prediction, "accepted", label, by=admin_user)
    review.refresh_from_db()
    assert (review.decision, review.label, review.decided_by) == ("accepted", label, admin_user)
    prediction.refresh_from_db()
    assert (prediction.label, prediction.verdict, prediction.feedback.label) == ("cat", "cat", "dog")


def test_a_second_decision_replaces_the_first(owner, pets, admin_user):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    do_review(prediction, "accepted", "cat", by=admin_user)
    do_review(prediction, "rejected", "dog", by=admin_user)
    [review] = Review.objects.all()
    assert (review.decision, review.label) == ("rejected", "")  # a label only goes with acceptance


@pytest.mark.parametrize(
    "decision, label, message",
    [
        ("accepted", "horse", "“horse” is not a class of the model that answered"),
        ("accepted", "", "Choose the label to accept"),
        ("approved", "cat", "“approved” is no decision: accept, reject or skip."),
    ],
)
def test_a_bad_decision_or_label_is_refused(owner, pets, admin_user, decision, label, message):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    with pytest.raises(ReviewRefused, match=message):
        do_review(prediction, decision, label, by=admin_user)
    assert not Review.objects.exists()


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_a_prediction_without_an_answer_is_refused(alice, admin_user, make_prediction, status):
    allow(alice)
    prediction = make_prediction(alice, status=status)
    for decision in ("accepted", "rejected", "skipped"):
        with pytest.raises(ReviewRefused, match="has no answer yet: it cannot be reviewed"):
            do_review(prediction, decision, "cat", by=admin_user)
    assert not Review.objects.exists()


def test_a_photo_whose_owner_did_not_allow_it_cannot_be_accepted(alice, pets, admin_user):
    prediction = answered(alice, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    with pytest.raises(ReviewRefused, match="has not allowed their corrected photos to be used"):
        do_review(prediction, "accepted", "dog", by=admin_user)
    with pytest.raises(ReviewRefused, match="has not allowed"):
        do_bulk_accept([prediction], by=admin_user)
    assert not Review.objects.exists()


def test_bulk_accept_takes_each_owners_label(owner, pets, admin_user):
    dog = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    other = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, feedback="other")
    do_bulk_accept([dog, other], by=admin_user)
    assert dict(Review.objects.values_list("prediction_id", "label")) == {dog.pk: "dog", other.pk: "other"}
    assert set(Review.objects.values_list("decision", flat=True)) == {"accepted"}


def test_bulk_accept_refuses_an_item_without_feedback_and_accepts_none(owner, pets, admin_user):
    with_feedback = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    without = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    with pytest.raises(ReviewRefused, match=rf"{without.original_name} \(#{without.pk}\) has no feedback to accept"):
        do_bulk_accept([with_feedback, without], by=admin_user)
    assert not Review.objects.exists()


def test_bulk_accept_refuses_nothing_selected(admin_user):
    with pytest.raises(ReviewRefused, match="Select the items whose feedback to accept"):
        do_bulk_accept([], by=admin_user)


def test_bulk_accept_refuses_a_prediction_without_an_answer(alice, admin_user, make_prediction):
    allow(alice)
    prediction = make_prediction(alice, status=Prediction.Status.FAILED)
    with pytest.raises(ReviewRefused, match="has no answer yet"):
        do_bulk_accept([prediction], by=admin_user)


def test_bulk_accept_refuses_feedback_naming_a_class_the_version_no_longer_has(owner, pets, admin_user):
    prediction = answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog")
    Feedback.objects.filter(prediction=prediction).update(label="bird")
    prediction = Prediction.objects.select_related("feedback").get(pk=prediction.pk)
    with pytest.raises(ReviewRefused, match="“bird” is not a class of the model that answered"):
        do_bulk_accept([prediction], by=admin_user)
    assert not Review.objects.exists()
