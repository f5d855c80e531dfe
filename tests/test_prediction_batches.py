"""Micro-batching's bookkeeping: the task of one photo answers the photos waiting behind it in the same engine
call, takes none another task holds, and sends a photo whose earlier delivery died alone. A model double
records each engine call; a real worker batching a real backlog is in test_worker_batches.py."""

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import UnidentifiedImageError

from classifier import tasks
from classifier.actions import do_claim_waiting
from classifier.models import Prediction
from trainer.models import ModelVersion

from .conftest import ModelDouble, answer, use_model_double

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def version():
    return ModelVersion.objects.create(
        name="double", architecture="mobilenet_v2", class_names=["cat", "dog"], status="ready", is_active=True
    )


@pytest.fixture
def engine_calls(monkeypatch) -> list:
    """The model doubles the tasks loaded; each records its engine calls."""
    return use_model_double(monkeypatch, lambda version, source: answer({"cat": 0.3, "dog": 0.7}))


def _calls(doubles) -> int:
    return sum(len(double.operating_points) for double in doubles)


def _statuses(predictions) -> list[str]:
    return [Prediction.objects.get(pk=p.pk).status for p in predictions]


def test_a_backlog_is_answered_in_one_engine_call_and_the_other_tasks_find_it_done(make_prediction, engine_calls):
    backlog = [make_prediction() for _ in range(5)]
    tasks.predict_image(backlog[0].pk)
    assert _statuses(backlog) == ["done"] * 5
    assert _calls(engine_calls) == 1
    for prediction in backlog[1:]:
        tasks.predict_image(prediction.pk)  # their own messages, delivered afterwards
    assert _calls(engine_calls) == 1
    assert {p.attempts for p in Prediction.objects.all()} == {1}  # each counted once, as one delivery


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "being-answered"])
def test_the_task_of_a_photo_taken_along_returns_after_one_small_query(
    make_prediction, engine_calls, django_assert_num_queries, answered
):
    """Under a backlog most messages are of photos another task took along: their tasks cost one query, which
    reads none of the answer's fields (the probabilities, the heatmap's grid)."""
    leader, taken = make_prediction(), make_prediction()
    if answered:
        tasks.predict_image(leader.pk)
    else:  # still in the other task's engine call
        Prediction.objects.filter(pk=taken.pk).update(claimed_by=leader.pk, claimed_at=timezone.now())
    with django_assert_num_queries(1) as queries:
        tasks.predict_image(taken.pk)
    [query] = queries.captured_queries
    assert "probabilities" not in query["sql"] and "heatmap_grid" not in query["sql"]
    assert Prediction.objects.get(pk=taken.pk).status == ("done" if answered else "pending")


def test_a_photo_alone_costs_two_writes(make_prediction, engine_calls):
    """Its claim, which counts the delivery before any work, and its answer with its heatmap: each a commit."""
    prediction = make_prediction()
    with CaptureQueriesContext(connection) as queries:
        tasks.predict_image(prediction.pk)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert len(writes) == 2, writes
    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts, prediction.claimed_by) == ("done", 1, prediction.pk)


def test_a_batch_holds_at_most_the_setting(make_prediction, engine_calls, settings):
    settings.CATDOG_BATCH_MAX = 3
    backlog = [make_prediction() for _ in range(5)]
    tasks.predict_image(backlog[0].pk)
    assert _statuses(backlog) == ["done"] * 3 + ["pending"] * 2
    tasks.predict_image(backlog[3].pk)
    assert _statuses(backlog) == ["done"] * 5
    assert _calls(engine_calls) == 2


def test_a_photo_another_task_holds_is_left_to_it(make_prediction, engine_calls):
    held, free = make_prediction(), make_prediction()
    Prediction.objects.filter(pk=held.pk).update(claimed_by=free.pk + 100, claimed_at=timezone.now())
    tasks.predict_image(held.pk)  # its own message, while another task answers it
    assert _statuses([held, free]) == ["pending", "pending"]
    assert Prediction.objects.get(pk=held.pk).attempts == 0
    tasks.predict_image(free.pk)
    assert _statuses([held, free]) == ["pending", "done"]  # not taken along either


def test_a_photo_held_past_the_lease_is_taken_again(make_prediction, engine_calls):
    from classifier.models import CLAIM_LEASE

    held, other = make_prediction(), make_prediction()
    Prediction.objects.filter(pk=held.pk).update(
        claimed_by=0, claimed_at=timezone.now() - CLAIM_LEASE - timedelta(seconds=1)
    )
    tasks.predict_image(other.pk)
    assert _statuses([held, other]) == ["done", "done"]


def test_two_tasks_never_take_the_same_photos(make_prediction):
    first, second, *waiting = [make_prediction() for _ in range(6)]
    taken_by_first = do_claim_waiting(first.pk, 3)
    taken_by_second = do_claim_waiting(second.pk, 10)
    assert len(taken_by_first) == 3 and first.pk not in taken_by_first
    assert set(taken_by_second) == {p.pk for p in [first, *waiting]} - set(taken_by_first)


def test_a_photo_whose_delivery_died_goes_alone_and_gives_back_what_it_took(
    make_prediction, engine_calls, django_capture_on_commit_callbacks, monkeypatch
):
    resent = []
    monkeypatch.setattr(tasks.predict_image, "delay", lambda prediction_id: resent.append(prediction_id))
    died, taken_along, waiting = make_prediction(), make_prediction(), make_prediction()
    # The first delivery of `died` took `taken_along` into its batch, then its worker died.
    Prediction.objects.filter(pk=died.pk).update(attempts=1, claimed_by=died.pk, claimed_at=timezone.now())
    Prediction.objects.filter(pk=taken_along.pk).update(attempts=1, claimed_by=died.pk, claimed_at=timezone.now())
    tasks.predict_image(died.pk)
    assert _statuses([died, taken_along, waiting]) == ["done", "pending", "pending"]
    assert _calls(engine_calls) == 1
    assert resent == [taken_along.pk]  # its own message may have been spent while it was held
    assert Prediction.objects.get(pk=taken_along.pk).claimed_by is None
    tasks.predict_image(taken_along.pk)  # it may be the photo that killed the worker: alone too
    assert _statuses([died, taken_along, waiting]) == ["done", "done", "pending"]


def test_a_photo_that_cannot_be_decoded_fails_alone(make_prediction, monkeypatch):
    bad, good = make_prediction(), make_prediction()
    with bad.image.open("wb") as f:
        f.write(b"not a photo at all")

    def classify(version, source: io.BytesIO):
        if source.getvalue() == b"not a photo at all":
            raise UnidentifiedImageError("cannot identify image file")
        return answer({"cat": 0.9, "dog": 0.1})

    use_model_double(monkeypatch, classify)
    tasks.predict_image(good.pk)  # takes the bad one along
    assert _statuses([bad, good]) == ["failed", "done"]
    assert Prediction.objects.get(pk=bad.pk).error == "The photo could not be decoded for the model."


def test_an_engine_call_that_fails_fails_every_photo_of_the_batch_clearly(make_prediction, engine_calls, monkeypatch):
    def explode(self, decoded, operating_point):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(ModelDouble, "answer", explode)
    backlog = [make_prediction() for _ in range(3)]
    tasks.predict_image(backlog[0].pk)
    assert _statuses(backlog) == ["failed"] * 3
    assert {p.error for p in Prediction.objects.all()} == {tasks.MODEL_FAILED}
