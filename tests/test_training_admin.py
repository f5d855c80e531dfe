"""Training from the admin: the form, double submissions, permissions, the version page while it runs
and once it is done, and cancelling. Activation: tests/test_version_activation_admin.py."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from trainer.models import Dataset, ModelVersion
from trainer.tasks import sweep_stuck_work

from .dataset_helpers import class_folders, zip_bytes
from .training_helpers import TINY, request_tiny_training, saved_version

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sent(monkeypatch):
    """The trainings the pages queue; none runs (the task has its own tests)."""
    sent = []
    monkeypatch.setattr("trainer.actions.trainings._enqueue_training", sent.append)
    return sent


@pytest.fixture
def train(admin_client, django_capture_on_commit_callbacks):
    """Post the training form as an admin, running what the request leaves for after its commit."""

    def post(dataset, form, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return admin_client.post(_train_url(dataset), form, **kwargs)

    return post


@pytest.fixture
def dataset(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 4, "dog": 4})))


def _train_url(dataset):
    return reverse("admin:trainer_dataset_train", args=[dataset.pk])


def _form(**fields):
    return {"architecture": "mobilenet_v2", "batch_size": 32, "test_split": 0.2, "seed": 1337,
            "request_key": str(uuid.uuid4()), **fields}  # fmt: skip


# --- The form ---------------------------------------------------------------------------------------------


def test_the_form_offers_every_setting_with_its_default(admin_client, dataset):
    r = admin_client.get(_train_url(dataset))
    assert r.status_code == 200
    page = r.content.decode()
    for field in ("architecture", "image_size", "epochs", "batch_size", "learning_rate", "augmentation",
                  "test_split", "test_dataset", "seed", "request_key"):  # fmt: skip
        assert f'name="{field}"' in page
    assert '<option value="mobilenet_v2" selected>' in page
    assert "224×224 for mobilenet_v2" in page and "96×96 for simple_cnn" in page


def test_the_dataset_page_has_a_train_button(admin_client, dataset):
    page = admin_client.get(reverse("admin:trainer_dataset_change", args=[dataset.pk])).content.decode()
    assert f'href="{_train_url(dataset)}"' in page


def test_submitting_queues_one_training_with_the_defaults_resolved(train, admin_user, dataset, sent):
    r = train(dataset, _form())
    version = ModelVersion.objects.get()
    assert r.status_code == 302 and r.url == reverse("admin:trainer_modelversion_change", args=[version.pk])
    assert version.status == ModelVersion.Status.QUEUED and version.created_by == admin_user
    assert version.params == {"architecture": "mobilenet_v2", "image_size": 224, "epochs": 20, "batch_size": 32,
                              "learning_rate": 0.001, "augmentation": "none", "dropout": 0.5, "test_split": 0.2,
                              "seed": 1337}  # fmt: skip
    assert version.dataset == dataset and version.dataset_sha256 == dataset.content_sha256
    assert version.name.startswith("pets-mobilenet_v2-")
    assert sent == [version.pk]


def test_the_chosen_settings_are_kept(admin_client, dataset, make_dataset, sent):
    test_dataset = make_dataset("pets-test", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}, start=40)))
    admin_client.post(_train_url(dataset), _form(name="mine", architecture="simple_cnn", image_size=64, epochs=3,
                                                 batch_size=8, learning_rate=0.01, augmentation="light",
                                                 test_dataset=test_dataset.pk))  # fmt: skip
    version = ModelVersion.objects.get()
    assert version.name == "mine" and version.test_dataset == test_dataset and version.image_size == 64
    assert version.params == {"architecture": "simple_cnn", "image_size": 64, "epochs": 3, "batch_size": 8,
                              "learning_rate": 0.01, "augmentation": "light", "dropout": 0.3, "test_split": None,
                              "seed": 1337}  # fmt: skip


def test_posting_the_same_form_twice_starts_one_training(train, dataset, sent):
    form = _form()
    first = train(dataset, form)
    second = train(dataset, form, follow=True)
    assert ModelVersion.objects.count() == 1 and len(sent) == 1
    assert second.redirect_chain[-1][0] == first.url
    assert "That training is already queued" in second.content.decode()


def test_the_same_settings_again_while_queued_start_nothing_new(train, dataset, sent):
    train(dataset, _form())
    train(dataset, _form())  # a new form, the same settings
    assert ModelVersion.objects.count() == 1 and len(sent) == 1
    train(dataset, _form(epochs=5))  # other settings: a second training
    assert ModelVersion.objects.count() == 2 and len(sent) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"epochs": 0}, "greater than or equal to 1"),
        ({"image_size": 8}, "greater than or equal to 32"),
        ({"learning_rate": -1}, "greater than or equal to 1e-06"),
        ({"test_split": 0.9}, "less than or equal to 0.5"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"architecture": "resnet"}, "Select a valid choice"),
        ({"augmentation": "lots"}, "Select a valid choice"),
        ({"seed": "abc"}, "Enter a whole number"),
    ],
)
def test_it_refuses_bad_settings(admin_client, dataset, sent, fields, message):
    r = admin_client.post(_train_url(dataset), _form(**fields))
    assert r.status_code == 400 and message in r.content.decode()
    assert not ModelVersion.objects.exists() and not sent


def test_it_refuses_a_test_dataset_with_other_classes(admin_client, dataset, make_dataset, sent):
    birds = make_dataset("birds", archive=zip_bytes(class_folders({"owl": 2, "tit": 2}, start=60)))
    r = admin_client.post(_train_url(dataset), _form(test_dataset=birds.pk))
    assert r.status_code == 400 and "are not this dataset" in r.content.decode()
    assert not ModelVersion.objects.exists() and not sent


def test_it_refuses_to_hold_out_photos_of_a_class_that_has_one(admin_client, make_dataset, sent):
    thin = make_dataset("thin", archive=zip_bytes(class_folders({"cat": 3, "dog": 1})))
    r = admin_client.post(_train_url(thin), _form())
    assert r.status_code == 400 and "dog: fewer than 2 images" in r.content.decode()
    assert not ModelVersion.objects.exists() and not sent


def test_a_dataset_that_is_not_ready_cannot_train(admin_client, make_dataset, sent):
    broken = make_dataset("broken", archive=b"not a zip")
    assert broken.status == Dataset.Status.FAILED
    r = admin_client.post(_train_url(broken), _form(), follow=True)
    assert "only a ready dataset can train" in r.content.decode()
    assert not ModelVersion.objects.exists() and not sent


def test_the_changelist_action_opens_the_form_for_one_dataset(admin_client, dataset, make_dataset):
    url = reverse("admin:trainer_dataset_changelist")
    r = admin_client.post(url, {"action": "train", "_selected_action": [dataset.pk]})
    assert r.status_code == 302 and r.url == _train_url(dataset)
    other = make_dataset("other", archive=zip_bytes(class_folders({"cat": 2, "dog": 2}, start=20)))
    r = admin_client.post(url, {"action": "train", "_selected_action": [dataset.pk, other.pk]}, follow=True)
    assert "Select exactly one dataset to train on." in r.content.decode()


# --- Who may --------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_user(username="staff", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_dataset", "view_modelversion"]))
    client.force_login(staff)
    client.staff = staff
    return client


def test_staff_without_the_permissions_cannot_train_cancel_or_activate(staff_client, dataset):
    queued = request_tiny_training(dataset)
    ready = saved_version()
    assert staff_client.get(_train_url(dataset)).status_code == 403
    assert staff_client.post(_train_url(dataset), _form()).status_code == 403
    assert staff_client.post(reverse("admin:trainer_modelversion_cancel", args=[queued.pk])).status_code == 403
    assert staff_client.post(reverse("admin:trainer_modelversion_activate", args=[ready.pk])).status_code == 403
    ready.refresh_from_db()
    queued.refresh_from_db()
    assert not ready.is_active and queued.status == ModelVersion.Status.QUEUED
    assert ModelVersion.objects.count() == 2  # no training was added


def test_the_dedicated_permissions_are_enough(staff_client, dataset, sent):
    staff_client.staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["train_modelversion", "activate_modelversion"])
    )
    assert staff_client.post(_train_url(dataset), _form()).status_code == 302
    ready = saved_version()
    staff_client.post(reverse("admin:trainer_modelversion_activate", args=[ready.pk]))
    ready.refresh_from_db()
    assert ready.is_active


def test_people_who_are_not_staff_are_sent_to_the_admin_log_in(client, user, dataset):
    client.force_login(user)
    r = client.get(_train_url(dataset))
    assert r.status_code == 302 and r.url.startswith(reverse("admin:login"))


# --- Watching -------------------------------------------------------------------------------------------


def test_a_training_the_sweep_failed_is_shown_failed_with_the_reason(admin_client, dataset):
    version = request_tiny_training(dataset)
    long_ago = timezone.now() - timedelta(minutes=5)
    ModelVersion.objects.filter(pk=version.pk).update(status="running", started_at=long_ago, heartbeat_at=long_ago)
    sweep_stuck_work()
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "stopped answering" in page and 'data-in-progress="false"' in page


def test_a_finished_version_shows_curves_scores_and_confusion_matrix(admin_client):
    metrics = {"accuracy": 0.9, "num_test": 10, "history": {"loss": [0.7, 0.3, 0.2], "test_loss": [0.6, 0.4, 0.3],
               "accuracy": [0.6, 0.8, 0.9], "test_accuracy": [0.6, 0.7, 0.9]},
               "per_class": {"cat": {"precision": 0.8333, "recall": 1.0, "f1": 0.9091, "support": 5},
                             "dog": {"precision": 1.0, "recall": 0.8, "f1": 0.8889, "support": 5}},
               "confusion_matrix": [[5, 0], [1, 4]]}  # fmt: skip
    version = saved_version(metrics=metrics, test_accuracy=0.9, params=TINY)
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert page.count("<polyline") == 4 and 'data-chart="loss"' in page and 'data-chart="accuracy"' in page
    assert "<td>0.8333</td><td>1.0000</td><td>0.9091</td><td>5</td>" in page
    assert "rgba(235, 87, 87, 0.20)" in page  # one dog in five taken for a cat
    assert ">4</td>" in page and 'data-action="activate"' in page
    assert "<th>image_size</th><td>32</td>" in page  # the settings


# --- Cancelling -----------------------------------------------------------------------------------------


def test_cancelling_a_running_training_asks_its_worker_to_stop(admin_client, dataset):
    version = request_tiny_training(dataset)
    ModelVersion.objects.filter(pk=version.pk).update(status="running", heartbeat_at=timezone.now())
    r = admin_client.post(reverse("admin:trainer_modelversion_cancel", args=[version.pk]), follow=True)
    version.refresh_from_db()
    assert version.cancel_requested and version.status == ModelVersion.Status.RUNNING
    assert "it stops within seconds" in r.content.decode()


def test_cancelling_a_queued_training_ends_it_at_once(admin_client, dataset):
    version = request_tiny_training(dataset)
    admin_client.post(reverse("admin:trainer_modelversion_cancel", args=[version.pk]))
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.CANCELLED


def test_cancelling_an_ended_training_says_so(admin_client):
    version = saved_version()
    r = admin_client.post(reverse("admin:trainer_modelversion_cancel", args=[version.pk]), follow=True)
    assert "had already ended" in r.content.decode()
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY


def test_cancel_needs_a_post(admin_client, dataset):
    version = request_tiny_training(dataset)
    assert admin_client.get(reverse("admin:trainer_modelversion_cancel", args=[version.pk])).status_code == 405


def test_the_list_shows_how_far_each_training_is(admin_client, dataset):
    running = request_tiny_training(dataset)
    progress = {"phase": "training", "epoch": 4, "epochs": 20, "phase_started": timezone.now().isoformat()}
    ModelVersion.objects.filter(pk=running.pk).update(status="running", heartbeat_at=timezone.now(), progress=progress)
    saved_version(name="broken", status="failed", error="The worker process running this training died (signal 9).")
    page = admin_client.get(reverse("admin:trainer_modelversion_changelist")).content.decode()
    assert "epoch 4 of 20" in page and "The worker process running this training died" in page


def test_reading_the_photos_shows_no_batch_count_and_the_model_file_is_not_a_link(admin_client, dataset):
    version = request_tiny_training(dataset)
    now = timezone.now()
    progress = {"phase": "loading", "done": 0, "total": 1, "phase_started": now.isoformat()}
    ModelVersion.objects.filter(pk=version.pk).update(status="running", heartbeat_at=now, progress=progress)
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "Reading and resizing the photos</strong></p>" in page and "batch 0 of 1" not in page
    ready = saved_version(file="models/v-0123456789ab.keras")
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[ready.pk])).content.decode()
    assert "models/v-0123456789ab.keras" in page and 'href="/media/models/' not in page
