"""The shipped model's training photos (trainer/shipped/catdog.trained.txt, written by ship_trained_photos):
ensure_shipped_model records them, so a test set holding any of them is refused for it; and its activation
is recorded like any other."""

from io import StringIO

import pytest
from django.core.management import call_command

from trainer.actions import MeasurementRefused, do_request_measurements
from trainer.files import file_sha256
from trainer.models import Activation, ModelVersion

from .conftest import SHARED_DATA, needs_shared_photos
from .dataset_helpers import zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@needs_shared_photos
def test_the_shipped_model_is_registered_with_the_photos_it_was_trained_on():
    call_command("ensure_shipped_model", stdout=StringIO())
    version = ModelVersion.objects.get()
    recorded = set(version.trained_photos.values_list("sha256", flat=True))
    assert len(recorded) == 2000
    assert recorded == {file_sha256(path) for path in (SHARED_DATA / "train").glob("*/*.jpg")}
    activation = Activation.objects.get()
    assert activation.version == version and activation.previous is None and activation.activated_by is None
    assert activation.reason == "No version was active (ensure_shipped_model)."


@needs_shared_photos
def test_a_test_set_with_the_shipped_models_training_photos_is_refused_for_it(make_dataset):
    call_command("ensure_shipped_model", stdout=StringIO())
    shipped = ModelVersion.objects.get()
    photos = {f"{kind}/{kind}.{n}.jpg": (SHARED_DATA / "train" / kind / f"{kind}.{n}.jpg").read_bytes()
              for kind in ("cat", "dog") for n in range(1, 3)}  # fmt: skip
    photos["cat/unseen.jpg"] = (SHARED_DATA / "test" / "cat" / "cat.4001.jpg").read_bytes()
    dataset = make_dataset("mixed", archive=zip_bytes(photos))
    with pytest.raises(MeasurementRefused, match=r"was trained on 4 of the 5 photos of mixed"):
        do_request_measurements([shipped], dataset)


def test_an_install_that_registered_the_shipped_model_before_gets_its_training_photos():
    call_command("ensure_shipped_model", stdout=StringIO())
    version = ModelVersion.objects.get()
    version.trained_photos.all().delete()  # as registered before the list was shipped
    out = StringIO()
    call_command("ensure_shipped_model", stdout=out)
    assert version.trained_photos.count() == 2000
    assert "Recorded the 2,000 photos" in out.getvalue()
    assert Activation.objects.count() == 1  # it was active already: no second activation
