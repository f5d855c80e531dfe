"""The inference task's bookkeeping: results, failures, idempotency, retries and deletion.

These tests replace the model with a double so that they run in milliseconds; the real model is
exercised in test_inference.py and, through a real worker, in test_worker_end_to_end.py.
"""

import pytest
from django.urls import reverse

from classifier import tasks
from classifier.actions import do_create_predictions, do_delete_prediction, do_retry_prediction
from classifier.models import Prediction
from classifier.validation import check_image_upload
from trainer.models import ModelVersion

from .conftest import answer, image_bytes, upload, use_model_double

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return ModelVersion.objects.create(
        name="double", architecture="mobilenet_v2", class_names=["cat", "dog"], status="ready", is_active=True
    )


@pytest.fixture
def fake_model(monkeypatch):
    calls = []

    def classify(version, source):
        calls.append(source.read())
        return answer({"cat": 0.2, "dog": 0.8})

    use_model_double(monkeypatch, classify)
    return calls


def test_it_stores_the_answer(make_prediction, version, fake_model):
    prediction = make_prediction()
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert (prediction.label, prediction.confidence) == ("dog", 0.8)
    assert prediction.probabilities == {"cat": 0.2, "dog": 0.8}
    assert prediction.model_version == version
    assert prediction.inference_ms == 7.0
    assert prediction.finished_at is not None
    with prediction.image.open("rb") as f:
        assert fake_model == [f.read()]  # the model saw the stored photo, read through storage


def test_a_redelivered_message_neither_runs_again_nor_overwrites(make_prediction, version, fake_model):
    prediction = make_prediction()
    tasks.predict_image(prediction.pk)
    Prediction.objects.filter(pk=prediction.pk).update(label="kept")
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert len(fake_model) == 1
    assert prediction.label == "kept"
    assert prediction.attempts == 1


def test_a_result_arriving_after_another_delivery_finished_is_dropped(make_prediction, version, monkeypatch):
    prediction = make_prediction()

    def classify_while_another_delivery_finishes(version, source):
        Prediction.objects.filter(pk=prediction.pk).update(status="done", label="first")
        return answer({"cat": 0.0, "dog": 1.0})

    use_model_double(monkeypatch, classify_while_another_delivery_finishes)
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.label == "first"


def test_a_deleted_prediction_is_skipped(make_prediction, version, fake_model):
    prediction = make_prediction()
    pk = prediction.pk
    prediction.delete()
    tasks.predict_image(pk)
    assert fake_model == []


def test_it_fails_clearly_without_an_active_model(make_prediction, fake_model):
    prediction = make_prediction()
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "No model is active" in prediction.error
    assert fake_model == []


def test_it_fails_clearly_when_the_photo_is_gone(make_prediction, version, fake_model):
    prediction = make_prediction()
    prediction.image.storage.delete(prediction.image.name)
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.error == "The photo is no longer in storage."


def test_it_fails_clearly_when_the_model_cannot_decode_the_photo(make_prediction, version, monkeypatch):
    from PIL import UnidentifiedImageError

    def classify(version, source):
        raise UnidentifiedImageError("cannot identify image file")

    use_model_double(monkeypatch, classify)
    prediction = make_prediction()
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.error == "The photo could not be decoded for the model."


def test_an_unexpected_model_error_fails_the_prediction_instead_of_leaving_it_pending(
    make_prediction, version, monkeypatch
):
    def classify(version, source):
        raise RuntimeError("graph exploded")

    use_model_double(monkeypatch, classify)
    prediction = make_prediction()
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "You can try again" in prediction.error


def test_the_owner_can_retry_a_failed_prediction(
    client, user, make_prediction, version, fake_model, django_capture_on_commit_callbacks
):
    prediction = make_prediction(status=Prediction.Status.FAILED, error="The model failed on this photo.")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("classifier:retry", args=[prediction.pk]))
    assert r.status_code == 302
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE  # eager mode ran the task after commit
    assert prediction.error == ""
    assert len(fake_model) == 1


def test_retrying_a_prediction_that_is_not_failed_does_nothing(
    make_prediction, version, django_capture_on_commit_callbacks
):
    prediction = make_prediction(status=Prediction.Status.DONE, label="cat")
    with django_capture_on_commit_callbacks() as callbacks:
        assert do_retry_prediction(prediction) is False
    assert callbacks == []
    prediction.refresh_from_db()
    assert prediction.label == "cat"


def test_a_prediction_stuck_pending_can_be_sent_again(make_prediction, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    fresh = make_prediction()
    stuck = make_prediction(created_at=timezone.now() - timedelta(hours=1))
    assert (fresh.can_retry, stuck.can_retry) == (False, True)
    with django_capture_on_commit_callbacks() as callbacks:
        assert do_retry_prediction(fresh) is False
        assert do_retry_prediction(stuck) is True
    assert len(callbacks) == 1


def test_the_task_is_enqueued_only_after_commit(user, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.predict_image, "delay", lambda prediction_id: sent.append(prediction_id))
    with django_capture_on_commit_callbacks() as callbacks:
        [prediction] = do_create_predictions(user, [check_image_upload(upload("a.png", image_bytes()))])
        assert sent == []
    for callback in callbacks:
        callback()
    assert sent == [prediction.pk]


def test_a_failed_transaction_leaves_no_files(user, settings, monkeypatch):
    checked = [check_image_upload(upload(f"{i}.png", image_bytes())) for i in range(2)]
    original_save = Prediction.save
    saves = []

    def save_then_fail_on_second(self, *args, **kwargs):
        saves.append(self)
        if len(saves) == 2:
            raise RuntimeError("database went away")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Prediction, "save", save_then_fail_on_second)
    with pytest.raises(RuntimeError):
        do_create_predictions(user, checked)
    assert Prediction.objects.count() == 0
    assert [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()] == []


def test_deleting_a_prediction_deletes_its_files(client, user, make_prediction, django_capture_on_commit_callbacks):
    prediction = make_prediction()
    storage, names = prediction.image.storage, [prediction.image.name, prediction.thumbnail.name]
    assert all(storage.exists(name) for name in names)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("classifier:delete", args=[prediction.pk]))
    assert r.status_code == 302
    assert not Prediction.objects.exists()
    assert not any(storage.exists(name) for name in names)


def test_delete_needs_a_post(client, user, make_prediction):
    prediction = make_prediction()
    client.force_login(user)
    assert client.get(reverse("classifier:delete", args=[prediction.pk])).status_code == 405
    assert Prediction.objects.filter(pk=prediction.pk).exists()


def test_do_delete_keeps_files_when_the_transaction_rolls_back(make_prediction):
    from django.db import transaction

    prediction = make_prediction()
    storage, name = prediction.image.storage, prediction.image.name
    with pytest.raises(RuntimeError), transaction.atomic():
        do_delete_prediction(prediction)
        raise RuntimeError("rolled back")
    assert storage.exists(name)


def test_a_photo_that_stopped_the_worker_three_times_is_failed_with_the_reason(make_prediction, version, monkeypatch):
    def classify_and_die(version, source):
        raise SystemExit("the pool process died")  # as a decoder that exhausts memory would end it

    use_model_double(monkeypatch, classify_and_die)
    prediction = make_prediction()
    for _ in range(tasks.MAX_PREDICTION_ATTEMPTS):  # each delivery is counted, then dies with its worker
        with pytest.raises(SystemExit):
            tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.PENDING

    tasks.predict_image(prediction.pk)  # delivered again: not tried a fourth time
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.error.startswith(f"This photo stopped the worker {tasks.MAX_PREDICTION_ATTEMPTS} times")


def test_a_delivery_after_fewer_losses_is_answered(make_prediction, version, fake_model):
    prediction = make_prediction(attempts=tasks.MAX_PREDICTION_ATTEMPTS - 1)
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE


def test_the_owner_retrying_a_photo_that_stopped_the_worker_gives_it_new_attempts(make_prediction, version, fake_model):
    prediction = make_prediction(attempts=tasks.MAX_PREDICTION_ATTEMPTS + 1, status=Prediction.Status.FAILED)
    assert do_retry_prediction(prediction)
    tasks.predict_image(prediction.pk)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.attempts) == (Prediction.Status.DONE, 1)
