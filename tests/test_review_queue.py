"""The review queue's contents and order (classifier/review.py): disagreeing feedback first, then the least
margin, then the oldest; skipped items last; only owners who allowed it; decided and deleted items leave it."""

import pytest

from classifier.actions import do_delete_prediction, do_review, do_undo_review
from classifier.review import LOW_MARGIN, accepted_for_training, margin, review_queue
from trainer.models import ModelVersion

from .review_helpers import allow, answered

pytest_plugins = ["tests.review_fixtures"]
pytestmark = pytest.mark.django_db


def test_the_margin_is_the_top_probability_minus_the_second():
    assert margin({"cat": 0.7, "dog": 0.2, "bird": 0.1}) == pytest.approx(0.5)
    assert margin({"cat": 1.0}) == 1.0
    assert margin({}) == 0.0


def test_disagreeing_feedback_comes_first_then_the_least_margin_then_the_oldest(owner, pets):
    sure_but_wrong = answered(owner, pets, {"cat": 0.99, "dog": 0.01}, feedback="dog")
    close = answered(owner, pets, {"cat": 0.52, "dog": 0.48})
    closer_old = answered(owner, pets, {"cat": 0.51, "dog": 0.49}, age_hours=5)
    closer_new = answered(owner, pets, {"cat": 0.51, "dog": 0.49}, age_hours=1)
    unsure = answered(owner, pets, {"cat": 0.6, "dog": 0.4}, verdict="unsure")
    none_of_these = answered(owner, pets, {"cat": 0.95, "dog": 0.05}, verdict="other")
    assert review_queue().ids == [
        sure_but_wrong.pk, closer_old.pk, closer_new.pk, close.pk, unsure.pk, none_of_these.pk
    ]  # fmt: skip


def test_a_sure_answer_with_agreeing_or_no_feedback_is_not_in_it(owner, pets):
    answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="cat")  # margin 0.8
    answered(owner, pets, {"cat": 0.76, "dog": 0.24})  # margin 0.52, just above LOW_MARGIN
    borderline = answered(owner, pets, {"cat": 0.74, "dog": 0.26})  # margin 0.48
    assert LOW_MARGIN == 0.5
    assert review_queue().ids == [borderline.pk]


def test_a_close_call_among_three_classes_is_found_even_with_a_high_top_probability(owner):
    birds = ModelVersion.objects.create(
        name="birds", status="ready", architecture="mobilenet_v2", class_names=["bird", "cat", "dog"]
    )
    # A top of 0.7 over 0.3: margin 0.4, in the queue; 0.74 over 0.2: margin 0.54, not.
    close = answered(owner, birds, {"bird": 0.7, "cat": 0.3, "dog": 0.0})
    answered(owner, birds, {"bird": 0.74, "cat": 0.2, "dog": 0.06})
    assert review_queue().ids == [close.pk]


def test_unfinished_predictions_are_not_in_it(owner, pets, make_prediction):
    make_prediction(owner, status="pending")
    make_prediction(owner, status="failed", error="the model was away")
    assert review_queue().ids == []


def test_photos_of_owners_who_did_not_allow_it_are_never_listed_but_counted(alice, other_user, pets):
    allow(alice)
    shown = answered(alice, pets, {"cat": 0.5, "dog": 0.5}, feedback="dog")
    answered(other_user, pets, {"cat": 0.99, "dog": 0.01}, feedback="dog")
    answered(other_user, pets, {"cat": 0.55, "dog": 0.45})
    answered(other_user, pets, {"cat": 0.99, "dog": 0.01})  # deserves no review: not counted
    queue = review_queue()
    assert queue.ids == [shown.pk]
    assert queue.withheld == 2


def test_consent_turned_off_takes_the_photos_out(alice, pets):
    allow(alice)
    prediction = answered(alice, pets, {"cat": 0.5, "dog": 0.5})
    from accounts.actions import do_set_corrections_consent

    do_set_corrections_consent(alice, False)
    assert review_queue().ids == []
    assert review_queue().withheld == 1
    assert prediction.pk not in review_queue().ids


def test_accepted_and_rejected_items_leave_it_and_skipped_ones_go_last(owner, pets, admin_user):
    first = answered(owner, pets, {"cat": 0.99, "dog": 0.01}, feedback="dog")
    second = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    third = answered(owner, pets, {"cat": 0.6, "dog": 0.4})
    fourth = answered(owner, pets, {"cat": 0.7, "dog": 0.3})
    do_review(first, "skipped", by=admin_user)
    assert review_queue().ids == [second.pk, third.pk, fourth.pk, first.pk]
    do_review(second, "accepted", "cat", by=admin_user)
    do_review(third, "rejected", by=admin_user)
    assert review_queue().ids == [fourth.pk, first.pk]


def test_undoing_a_decision_puts_it_back(owner, pets, admin_user):
    prediction = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    do_review(prediction, "accepted", "dog", by=admin_user)
    assert review_queue().ids == []
    assert do_undo_review(prediction)
    assert review_queue().ids == [prediction.pk]
    assert not do_undo_review(prediction)


def test_deleting_a_prediction_removes_it_from_the_queue_and_the_accepted(owner, pets, admin_user):
    queued = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    accepted = answered(owner, pets, {"cat": 0.6, "dog": 0.4})
    do_review(accepted, "accepted", "cat", by=admin_user)
    do_delete_prediction(queued)
    do_delete_prediction(accepted)
    assert review_queue().ids == []
    assert list(accepted_for_training()) == []


@pytest.mark.parametrize(
    "class_name, expected", [("cat", ["cat_answer", "dog_said"]), ("dog", ["dog_answer", "dog_said"]), ("", None)]
)
def test_it_filters_by_the_models_class_or_the_owners(owner, pets, class_name, expected):
    items = {
        "dog_said": answered(owner, pets, {"cat": 0.9, "dog": 0.1}, feedback="dog"),
        "cat_answer": answered(owner, pets, {"cat": 0.55, "dog": 0.45}),
        "dog_answer": answered(owner, pets, {"cat": 0.4, "dog": 0.6}),
    }
    ids = review_queue(class_name).ids
    assert sorted(ids) == sorted(items[name].pk for name in (expected or items))


def test_it_filters_by_version(owner, pets):
    older = ModelVersion.objects.create(
        name="older", status="ready", architecture="simple_cnn", class_names=["cat", "dog"]
    )
    mine = answered(owner, older, {"cat": 0.5, "dog": 0.5})
    answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    assert review_queue(version_id=older.pk).ids == [mine.pk]


def test_accepted_as_none_of_these_is_recorded_but_not_for_training(owner, pets, admin_user):
    cat = answered(owner, pets, {"cat": 0.5, "dog": 0.5})
    other = answered(owner, pets, {"cat": 0.5, "dog": 0.5}, verdict="other")
    do_review(cat, "accepted", "cat", by=admin_user)
    do_review(other, "accepted", "other", by=admin_user)
    assert other.review.label == "other"
    assert [review.prediction_id for review in accepted_for_training()] == [cat.pk]
