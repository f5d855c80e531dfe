"""A version's calibration on its admin page, and choosing its operating point: by those who may activate
versions only, recorded (who, when, the admin's history), effective from the next photo."""

import html
import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse

from trainer.models import ModelVersion

from .training_helpers import saved_version
from .verdict_helpers import CALIBRATION_REPORT as REPORT

pytestmark = pytest.mark.django_db


def _calibrated(**fields) -> ModelVersion:
    version = saved_version(name="pets", calibration_report=REPORT, **fields)
    version.calibration.save("pets-calibration.npz", ContentFile(b"not read by the page"), save=True)
    return version


def _page(client, version) -> str:
    r = client.get(reverse("admin:trainer_modelversion_change", args=[version.pk]))
    assert r.status_code == 200
    return r.content.decode()


def _row(page: str, name: str) -> str:
    return page.split(f'data-operating-point="{name}"', 1)[1].split("</tr>", 1)[0]


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


@pytest.fixture
def staff_client(client, django_user_model):
    """Staff who may see versions, not activate them."""
    staff = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(staff)
    return client


def test_a_version_without_calibration_says_it_answers_every_photo_with_a_class(admin_client):
    version = saved_version(name="old")
    page = _page(admin_client, version)
    assert "data-no-calibration" in page
    assert "This version has no calibration: it answers every photo with one of its classes" in page
    assert "data-operating-point-form" not in page


def test_the_calibration_table_gives_each_operating_points_measured_shares(admin_client):
    version = _calibrated(operating_point="strict")
    page = _page(admin_client, version)
    assert _cells(_row(page, "strict")) == ["91.2%", "4.1%", "4.7%", "99.8%", "99.1%"]
    assert _cells(_row(page, "lenient")) == ["97.3%", "2.0%", "0.7%", "99.3%", "95.0%"]
    assert "on 400 held-out photos of its own classes and 595 outlier photos" in page
    assert REPORT["method"] in html.unescape(page)
    assert 'data-operating-point="strict" aria-current="true"' in page
    assert "(in use)" in _row(page, "strict") and "(in use)" not in _row(page, "balanced")


def test_without_outliers_or_kept_answers_the_table_says_so(admin_client):
    report = {**REPORT, "outliers": 0, "operating_points": {
        name: {**shares, "outliers_other": None} for name, shares in REPORT["operating_points"].items()
    }}  # fmt: skip
    report["operating_points"]["strict"] = {**report["operating_points"]["strict"], "kept": 0.0, "accuracy": None}
    version = _calibrated()
    ModelVersion.objects.filter(pk=version.pk).update(calibration_report=report)
    page = _page(admin_client, version)
    assert _cells(_row(page, "strict"))[3:] == ["— (nothing kept)", "no outlier photos were given"]
    measured = page.split("data-measured>", 1)[1].split("</p>", 1)[0]
    assert measured == "Measured when it was trained, on 400 held-out photos of its own classes."


def test_someone_who_may_activate_gets_the_form_and_others_a_read_only_table(admin_client, staff_client):
    version = _calibrated()
    page = _page(admin_client, version)
    assert f'action="/admin/trainer/modelversion/{version.pk}/operating-point/"' in page
    assert page.count('type="radio" form="operating-point-form" name="operating_point"') == 3
    # The section is inside the admin's own form, and forms cannot nest: its own form stands before that one.
    assert page.index('<form id="operating-point-form"') < page.index('id="modelversion_form"')
    assert page.count("<form") == page.count("</form>")
    assert 'value="balanced" id="op-balanced" checked' in page
    read_only = _page(staff_client, version)
    assert "data-operating-point-form" not in read_only and 'type="radio"' not in read_only
    assert "91.2%" in read_only


def _choose(client, version, name):
    return client.post(
        reverse("admin:trainer_modelversion_operating_point", args=[version.pk]), {"operating_point": name}
    )


def test_choosing_an_operating_point_is_recorded(admin_client, admin_user):
    version = _calibrated()
    r = _choose(admin_client, version, "strict")
    assert r.status_code == 302
    version.refresh_from_db()
    assert version.operating_point == "strict"
    assert version.operating_point_set_by == admin_user and version.operating_point_set_at is not None
    [entry] = LogEntry.objects.filter(object_id=str(version.pk))
    assert (entry.user, entry.action_flag) == (admin_user, CHANGE)
    assert entry.get_change_message() == "Changed the operating point from balanced to strict."
    page = admin_client.get(r["Location"]).content.decode()
    assert f"Changed the operating point of pets (#{version.pk}) from balanced to strict" in page
    assert "Operating point chosen by admin on" in page


def test_without_the_permission_it_is_a_403_and_nothing_changes(staff_client):
    version = _calibrated()
    assert _choose(staff_client, version, "strict").status_code == 403
    version.refresh_from_db()
    assert (version.operating_point, version.operating_point_set_by) == ("balanced", None)
    assert not LogEntry.objects.exists()


def test_an_unknown_operating_point_is_refused_and_nothing_changes(admin_client):
    version = _calibrated()
    r = _choose(admin_client, version, "reckless")
    version.refresh_from_db()
    assert (version.operating_point, version.operating_point_set_at) == ("balanced", None)
    assert not LogEntry.objects.exists()
    page = admin_client.get(r["Location"]).content.decode()
    assert (
        "Nothing was changed: &#x27;reckless&#x27; is not an operating point: choose one of strict, balanced, lenient."
        in page
    )


def test_a_get_changes_nothing(admin_client):
    version = _calibrated()
    url = reverse("admin:trainer_modelversion_operating_point", args=[version.pk])
    assert admin_client.get(url, {"operating_point": "strict"}).status_code == 405
    version.refresh_from_db()
    assert version.operating_point == "balanced"


def test_the_action_refuses_an_unknown_name_and_a_version_without_calibration(admin_user):
    from trainer.actions import do_set_operating_point

    with pytest.raises(ValueError, match="choose one of strict, balanced, lenient"):
        do_set_operating_point(_calibrated(), "loose", admin_user)
    with pytest.raises(ValueError, match="has no calibration"):
        do_set_operating_point(saved_version(name="old"), "strict", admin_user)
    assert not LogEntry.objects.exists()


def test_the_next_photo_is_answered_at_the_new_operating_point(admin_client, monkeypatch, make_prediction):
    """The prediction task reads the active version for every photo and passes its operating point on."""
    from classifier.tasks import predict_image

    from .conftest import answer, use_model_double

    version = _calibrated(is_active=True)
    doubles = use_model_double(monkeypatch, lambda version, source: answer({"cat": 0.9, "dog": 0.1}))
    predict_image.apply(args=[make_prediction().pk])
    _choose(admin_client, version, "lenient")
    predict_image.apply(args=[make_prediction().pk])
    assert [point for double in doubles for point in double.operating_points] == ["balanced", "lenient"]
