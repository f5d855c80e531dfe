"""Error analysis in the admin: each cell of a version's confusion matrix links to its test photos, the
worst mistakes come first, each photo is shown with its probabilities, verdict and heatmap; staff only."""

import hashlib
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from trainer.images import check_image
from trainer.models import Dataset
from trainer.models import TestPhotoResult as Answer  # renamed: pytest would try to collect a class named Test*

from .conftest import image_bytes
from .error_analysis_helpers import answer_row, keep_photo
from .page_helpers import _page
from .training_helpers import saved_version

pytestmark = pytest.mark.django_db

_LINK = re.compile(r'<a href="([^"]+)" data-true="([^"]+)" data-predicted="([^"]+)">(\d+)</a>')


@pytest.fixture
def dataset():
    return Dataset.objects.create(name="pets", source="zip", class_names=["cat", "dog"])


@pytest.fixture
def version(dataset):
    return saved_version(name="v1", dataset=dataset, metrics={"confusion_matrix": [[3, 2], [1, 2]]})


@pytest.fixture
def rows(version):
    """The matrix's 8 photos: cat answered cat 3, cat answered dog 2, dog answered cat 1, dog answered dog 2."""
    cells = {
        ("cat", "cat"): [0.9, 0.6, 0.99],
        ("cat", "dog"): [0.55, 0.97],
        ("dog", "cat"): [0.8],
        ("dog", "dog"): [0.7, 0.95],
    }
    return {cell: [answer_row(version, *cell, c) for c in confidences] for cell, confidences in cells.items()}


def _change(client, version):
    return client.get(reverse("admin:trainer_modelversion_change", args=[version.pk]))


def _cell_url(version, true_label, predicted_label) -> str:
    return reverse("admin:trainer_modelversion_cell", args=[version.pk, true_label, predicted_label])


def _mistakes_url(version) -> str:
    return reverse("admin:trainer_modelversion_mistakes", args=[version.pk])


def _photo_url(result) -> str:
    return reverse("admin:trainer_modelversion_result_photo", args=[result.version_id, result.pk])


def _heatmap_url(result) -> str:
    return reverse("admin:trainer_modelversion_result_heatmap", args=[result.version_id, result.pk])


def _listed(response) -> list[int]:
    return [int(li["data-result"]) for li in _page(response)[1].find("li", data_result=True)]


def _most_confident_first(results) -> list[int]:
    return [r.pk for r in sorted(results, key=lambda r: (-r.confidence, r.pk))]


# --- The version's page -------------------------------------------------------------------------------------------


def test_each_cell_with_photos_links_to_them_with_its_count(admin_client, version, rows):
    html = _change(admin_client, version).content.decode()
    links = {(true, predicted): (href, int(count)) for href, true, predicted, count in _LINK.findall(html)}
    assert links == {cell: (_cell_url(version, *cell), len(results)) for cell, results in rows.items()}
    assert f'href="{_mistakes_url(version)}"' in html
    assert "the 3 wrong answers, the most confident first" in html


def test_a_cell_without_photos_has_no_link(admin_client, dataset):
    version = saved_version(dataset=dataset, metrics={"confusion_matrix": [[2, 0], [0, 1]]})
    for true_label, confidence in (("cat", 0.9), ("cat", 0.8), ("dog", 0.7)):
        answer_row(version, true_label, true_label, confidence)
    html = _change(admin_client, version).content.decode()
    assert {(true, predicted) for _, true, predicted, _ in _LINK.findall(html)} == {("cat", "cat"), ("dog", "dog")}
    assert "No test photo was answered wrongly." in html


def test_a_version_trained_before_its_photos_were_recorded_says_so(admin_client, version):
    html = _change(admin_client, version).content.decode()
    assert not _LINK.findall(html)
    assert 'data-test-photos="none"' in html
    assert "answer for each test photo was not recorded" in html
    r = admin_client.get(_mistakes_url(version))
    assert r.status_code == 200 and _page(r)[1].find("p", data_no_test_photos=True)


# --- A cell's page and the worst mistakes ---------------------------------------------------------------------------


def test_a_cell_lists_exactly_its_photos_the_most_confident_first(admin_client, version, rows):
    for cell, results in rows.items():
        r = admin_client.get(_cell_url(version, *cell))
        assert r.status_code == 200
        assert _listed(r) == _most_confident_first(results), cell


def test_a_cell_page_leads_to_every_other_cell_with_photos(admin_client, version, rows):
    html, page = _page(admin_client.get(_cell_url(version, "cat", "dog")))
    nav = html.split("data-cell-nav", 1)[1].split("</table>", 1)[0]
    assert '<strong aria-current="page">2</strong>' in nav
    for cell in [("cat", "cat"), ("dog", "cat"), ("dog", "dog")]:
        assert f'<a href="{_cell_url(version, *cell)}">{len(rows[cell])}</a>' in nav, cell
    assert page.find("a", href=_mistakes_url(version))


def test_the_worst_mistakes_are_every_wrong_answer_the_most_confident_first(admin_client, version, rows):
    r = admin_client.get(_mistakes_url(version))
    wrong = rows[("cat", "dog")] + rows[("dog", "cat")]
    assert _listed(r) == _most_confident_first(wrong)
    assert Answer.objects.get(pk=_listed(r)[0]).confidence == 0.97


def test_a_long_list_comes_in_pages_of_sixty(admin_client, version):
    results = [answer_row(version, "cat", "dog", c / 100, name=f"{c}.jpg") for c in range(20, 81)]  # 61 mistakes
    order = _most_confident_first(results)
    first, second = admin_client.get(_mistakes_url(version)), admin_client.get(_mistakes_url(version) + "?page=2")
    assert _listed(first) == order[:60]
    assert _listed(second) == order[60:]
    assert "Page 2 of 2" in second.content.decode()


def test_each_photo_shows_its_thumbnail_probabilities_verdict_and_heatmap(admin_client, version, dataset):
    data = image_bytes("PNG", size=(64, 48))
    keep_photo(dataset, "cat", data, thumbnail=image_bytes("JPEG", size=(32, 24)))
    result = answer_row(version, "cat", "dog", 0.875, sha256=hashlib.sha256(data).hexdigest(), name="cat.12.jpg",
                  verdict="unsure")  # fmt: skip
    html, page = _page(admin_client.get(_cell_url(version, "cat", "dog")))
    [item] = re.findall(r'<li class="test-photo wrong".*?</li>', html, re.DOTALL)
    assert 'data-name="cat.12.jpg"' in item
    assert page.find("img", src=_photo_url(result), alt="cat.12.jpg")
    assert page.find("img", src=_heatmap_url(result), data_heatmap=True)
    assert re.search(r"<th>cat</th><td>12\.5%</td>", item) and re.search(r"<th>dog</th><td>87\.5%</td>", item)
    assert '<span data-verdict="unsure">Not sure</span>' in item
    # The toggle: a checkbox before the list, which the stylesheet reads (no script).
    assert page.find("input", type="checkbox", id="show-heatmaps", checked=True)
    assert "not kept" not in item


def test_a_version_whose_photos_are_not_kept_shows_their_heatmaps_and_says_why(admin_client):
    shipped = saved_version(name="shipped", metrics={"confusion_matrix": [[1, 1], [0, 0]]})
    kept_nowhere = answer_row(shipped, "cat", "dog", 0.9, name="cat.1001.jpg")
    answer_row(shipped, "cat", "cat", 0.8)
    html, page = _page(admin_client.get(_mistakes_url(shipped)))
    assert _listed(admin_client.get(_mistakes_url(shipped))) == [kept_nowhere.pk]
    assert 'data-name="cat.1001.jpg"' in html
    assert not page.find("img", src=_photo_url(kept_nowhere))
    assert page.find("img", src=_heatmap_url(kept_nowhere))
    assert page.find("p", data_not_kept_note=True)
    assert "measured from files outside catdog's datasets" in html
    assert admin_client.get(_photo_url(kept_nowhere)).status_code == 404
    heatmap = Image.open(io.BytesIO(admin_client.get(_heatmap_url(kept_nowhere)).content))
    assert heatmap.size == (320, 320)  # the model's own view: the photo squashed to a square


# --- The photo and its heatmap -------------------------------------------------------------------------------------


def test_the_photo_is_its_thumbnail_when_it_has_one(admin_client, version, dataset):
    thumbnail = image_bytes("JPEG", size=(32, 24))
    image = keep_photo(dataset, "cat", image_bytes("PNG"), thumbnail=thumbnail)
    r = admin_client.get(_photo_url(answer_row(version, "cat", "dog", 0.9, sha256=image.sha256)))
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert b"".join(r.streaming_content) == thumbnail
    assert r["Cache-Control"] == "private, max-age=3600"


def test_the_photo_is_its_own_file_without_a_thumbnail(admin_client, version, dataset):
    data = image_bytes("PNG", color=(1, 2, 3))
    image = keep_photo(dataset, "cat", data)
    r = admin_client.get(_photo_url(answer_row(version, "cat", "dog", 0.9, sha256=image.sha256)))
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert b"".join(r.streaming_content) == data


def test_the_photo_is_found_in_any_dataset_by_its_content(admin_client, version):
    elsewhere = Dataset.objects.create(name="other", source="zip")
    data = image_bytes("PNG", color=(9, 9, 9))
    image = keep_photo(elsewhere, "cat", data)
    r = admin_client.get(_photo_url(answer_row(version, "cat", "cat", 0.9, sha256=image.sha256)))
    assert r.status_code == 200 and b"".join(r.streaming_content) == data


def _heatmap(client, result) -> Image.Image:
    r = client.get(_heatmap_url(result))
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert r["Cache-Control"] == "private, max-age=3600"
    return Image.open(io.BytesIO(r.content))


def test_the_heatmap_has_the_photos_shape_and_lies_where_the_model_looked(admin_client, version, dataset):
    image = keep_photo(dataset, "cat", image_bytes("PNG", size=(64, 32)), size=(64, 32))
    heatmap = _heatmap(admin_client, answer_row(version, "cat", "dog", 0.9, sha256=image.sha256))
    assert heatmap.size == (320, 160)
    alpha = heatmap.convert("RGBA").getchannel("A")
    assert alpha.getpixel((2, 80)) > alpha.getpixel((317, 80))  # lit on the left, as the grid is


@pytest.mark.parametrize("with_thumbnail", [True, False], ids=["its-thumbnail", "its-file"])
def test_the_heatmap_follows_the_photo_turned_upright(admin_client, version, dataset, with_thumbnail):
    """A photo stored 64 wide and 32 high but marked to be turned a quarter is seen 32 wide and 64 high,
    whether the page shows its thumbnail (made upright when the dataset was checked) or its own file."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    data = image_bytes("JPEG", size=(64, 32), exif=exif.tobytes())
    thumbnail = check_image(io.BytesIO(data), "turned.jpg", len(data)).thumbnail if with_thumbnail else None
    image = keep_photo(dataset, "cat", data, thumbnail=thumbnail, size=(64, 32), extension="jpg")
    assert _heatmap(admin_client, answer_row(version, "cat", "dog", 0.9, sha256=image.sha256)).size == (160, 320)


def test_a_row_without_a_heatmap_has_none(admin_client, version):
    assert admin_client.get(_heatmap_url(answer_row(version, "cat", "dog", 0.9, heatmap=[]))).status_code == 404


def test_a_heatmap_that_cannot_be_drawn_is_not_found_and_says_why(admin_client, version):
    r = admin_client.get(_heatmap_url(answer_row(version, "cat", "dog", 0.9, heatmap=[[1, 2], [3]])))
    assert r.status_code == 404


# --- What is not found ---------------------------------------------------------------------------------------------


def test_a_row_is_only_found_under_its_own_version(admin_client, version, rows, dataset):
    other = saved_version(name="v2", dataset=dataset)
    result = rows[("cat", "dog")][0]
    for name in ("result_photo", "result_heatmap"):
        url = reverse(f"admin:trainer_modelversion_{name}", args=[other.pk, result.pk])
        assert admin_client.get(url).status_code == 404, name


def test_a_cell_of_a_class_the_version_does_not_have_is_not_found(admin_client, version, rows):
    assert admin_client.get(_cell_url(version, "cat", "horse")).status_code == 404
    assert admin_client.get(_cell_url(version, "horse", "dog")).status_code == 404
    assert admin_client.get(reverse("admin:trainer_modelversion_cell", args=[999999, "cat", "dog"])).status_code == 404
    assert admin_client.get(reverse("admin:trainer_modelversion_mistakes", args=[999999])).status_code == 404


# --- Who may see them ----------------------------------------------------------------------------------------------


def _urls(version, rows) -> list[str]:
    result = rows[("cat", "dog")][0]
    return [_cell_url(version, "cat", "dog"), _mistakes_url(version), _photo_url(result), _heatmap_url(result)]


def test_people_who_are_not_staff_are_sent_to_the_admin_login(client, user, version, rows):
    client.force_login(user)
    for url in _urls(version, rows):
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith("/admin/login/"), url
    client.logout()
    for url in _urls(version, rows):
        r = client.get(url)
        assert r.status_code == 302 and "/login/" in r.url, url


def test_staff_without_the_view_permission_are_refused(client, django_user_model, version, rows):
    staff = django_user_model.objects.create_user(username="sue", password="correct horse battery", is_staff=True)
    client.force_login(staff)
    for url in _urls(version, rows):
        assert client.get(url).status_code == 403, url
    staff.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    for url in _urls(version, rows):
        assert client.get(url).status_code in (200, 404), url  # 404: the photo of a row whose photo is not kept
    assert client.get(_mistakes_url(version)).status_code == 200


def test_the_pages_only_read(admin_client, version, rows, dataset):
    image = keep_photo(dataset, "cat", image_bytes("PNG"))
    result = answer_row(version, "cat", "dog", 0.5, sha256=image.sha256)
    change = reverse("admin:trainer_modelversion_change", args=[version.pk])
    urls = [change, _cell_url(version, "cat", "dog"), _mistakes_url(version), _photo_url(result), _heatmap_url(result)]
    with CaptureQueriesContext(connection) as queries:
        for url in urls:
            assert admin_client.get(url).status_code == 200, url
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE"))]
    assert writes == []
