"""Only a version the workers' engine can serve becomes the active one: its serving file for CATDOG_ENGINE and its
head's weights passed verification against Keras (trainer/actions/exports.py). Every path that activates refuses
one that did not, saying why: the admin's activation page, the actions, and automatic promotion."""

import pytest
from django.urls import reverse

from trainer.actions import NotServable, do_activate_checked, do_activate_model_version, do_consider_promotion
from trainer.models import Dataset, ModelExport, ModelVersion

from .training_helpers import saved_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _an_engine_that_reads_the_onnx_file(settings):
    settings.CATDOG_ENGINE = "onnxruntime"  # the tests fail the ONNX file; the default engine reads the TFLite one


def _failed(version, kind, error="With onnxruntime, its probabilities differ from Keras's by up to 0.3."):
    version.exports.filter(kind=kind).update(status=ModelExport.Status.FAILED, error=error)


def test_a_version_without_serving_files_is_refused_and_told_how_to_make_them():
    version = saved_version(servable=False)
    with pytest.raises(NotServable, match=rf"no ONNX model \(serving\).*export_version {version.pk}"):
        do_activate_checked(version, by=None, confirmed=True)
    assert not ModelVersion.objects.filter(is_active=True).exists()


def test_a_version_whose_serving_file_failed_verification_is_refused_with_the_reason():
    version = saved_version()
    _failed(version, "serving_onnx")
    with pytest.raises(NotServable, match="failed verification.*differ from Keras's by up to 0.3"):
        do_activate_checked(version, by=None, confirmed=True)
    version.refresh_from_db()
    assert not version.is_active


def test_a_version_whose_head_failed_verification_is_refused():
    version = saved_version()
    _failed(version, "serving_head", "With NumPy, its top answer differs from Keras's on 2 of 9 test photos.")
    with pytest.raises(NotServable, match="Head weights"):
        do_activate_checked(version, by=None, confirmed=True)


def test_the_engine_setting_decides_which_file_must_have_passed(settings):
    version = saved_version()
    _failed(version, "serving_tflite")
    settings.CATDOG_ENGINE = "litert"
    with pytest.raises(NotServable, match="LiteRT model"):
        do_activate_checked(version, by=None, confirmed=True)
    settings.CATDOG_ENGINE = "openvino"  # reads the ONNX file, which passed
    do_activate_checked(version, by=None, confirmed=True)
    version.refresh_from_db()
    assert version.is_active


def test_an_unknown_engine_setting_serves_nothing_and_says_so(settings):
    settings.CATDOG_ENGINE = "tensorrt"
    with pytest.raises(NotServable, match="CATDOG_ENGINE is 'tensorrt', which names no engine"):
        do_activate_checked(saved_version(), by=None, confirmed=True)


def test_the_plain_action_refuses_too_as_train_model_and_ensure_shipped_model_activate_through_it():
    with pytest.raises(NotServable):
        do_activate_model_version(saved_version(servable=False))


def test_the_activation_page_says_not_servable_and_offers_no_button(admin_client):
    version = saved_version(servable=False)
    url = reverse("admin:trainer_modelversion_activate", args=[version.pk])
    page = admin_client.get(url).content.decode()
    assert "data-not-servable" in page and "Not servable:" in page
    assert "data-confirm-activate" not in page

    r = admin_client.post(url, {"confirm": "yes"})
    assert r.status_code == 400
    assert "cannot be activated" in r.content.decode()
    version.refresh_from_db()
    assert not version.is_active


def test_the_version_page_says_not_servable_and_why_and_offers_no_activate_button(admin_client):
    version = saved_version()
    _failed(version, "serving_onnx")
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "Not servable: its ONNX model (serving) failed verification" in page
    assert "differ from Keras&#x27;s by up to 0.3" in page
    assert 'data-action="activate"' not in page


def test_a_servable_version_page_offers_activation(admin_client):
    version = saved_version()
    page = admin_client.get(reverse("admin:trainer_modelversion_change", args=[version.pk])).content.decode()
    assert "data-servable" in page and 'data-action="activate"' in page


def test_automatic_promotion_passes_over_a_version_that_is_not_servable():
    lineage = Dataset.objects.create(name="pets", source="zip", status="ready", content_sha256="a" * 64)
    lineage.auto_promote = True
    lineage.save()
    saved_version(name="active", is_active=True)
    candidate = saved_version(name="candidate", dataset=lineage, servable=False)
    assert not do_consider_promotion(candidate)
    candidate.refresh_from_db()
    assert not candidate.is_active
    assert candidate.metrics["promotion"]["reason"].startswith("Not activated: not servable: it has no ONNX model")
