"""An admin looks at a version's mistakes in a real browser: from a cell of the confusion matrix to its
photos with their heatmaps, the heatmaps hidden and shown again (a checkbox and CSS, no script), the worst
mistakes, and a version whose test photos catdog does not keep; at desktop and phone widths."""

import io

import numpy as np
import pytest

from trainer.images import check_image
from trainer.models import Dataset

from ..conftest import shared_photo
from ..error_analysis_helpers import answer_row, keep_photo
from ..training_helpers import saved_version
from .browser import PHONE, assert_fits_the_width, assert_images_loaded, log_in_to_the_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
# (true class, answer, confidence, shared test photo number)
ANSWERS = [
    ("cat", "cat", 0.98, 4001), ("cat", "cat", 0.91, 4002), ("cat", "cat", 0.88, 4003), ("cat", "cat", 0.7, 4004),
    ("cat", "dog", 0.96, 4005), ("cat", "dog", 0.62, 4006),
    ("dog", "cat", 0.83, 4001), ("dog", "dog", 0.99, 4002), ("dog", "dog", 0.9, 4003), ("dog", "dog", 0.75, 4004),
]  # fmt: skip


def _blob(row: float, column: float, side: int = 7) -> list[list[int]]:
    """A heatmap grid bright around (row, column), as a class activation map often is."""
    rows, columns = np.mgrid[0:side, 0:side]
    values = np.exp(-((rows - row) ** 2 + (columns - column) ** 2) / 4.0)
    return np.rint(255 * values / values.max()).astype(int).tolist()


@pytest.fixture
def versions(django_user_model):
    django_user_model.objects.create_superuser(username="ada", password=PASSWORD)
    pets = Dataset.objects.create(name="pets", source="zip", class_names=["cat", "dog"])
    version = saved_version(name="mobilenet_v2-pets", dataset=pets, metrics={"confusion_matrix": [[4, 2], [1, 3]]})
    for n, (true_label, predicted_label, confidence, number) in enumerate(ANSWERS):
        data = shared_photo(true_label, number).read_bytes()
        facts = check_image(io.BytesIO(data), "photo.jpg", len(data))
        image = keep_photo(
            pets, true_label, data, thumbnail=facts.thumbnail if n % 2 else None,  # half without: the file itself
            size=(facts.width, facts.height), extension="jpg",
        )  # fmt: skip
        answer_row(
            version, true_label, predicted_label, confidence, sha256=image.sha256,
            name=f"{true_label}.{number}.jpg", heatmap=_blob(2 + n % 3, 1 + n % 5),
        )  # fmt: skip
    shipped = saved_version(name="shipped", metrics={"confusion_matrix": [[1, 1], [1, 1]]})
    for n, (true_label, predicted_label) in enumerate([("cat", "dog"), ("dog", "cat"), ("cat", "cat")]):
        answer_row(shipped, true_label, predicted_label, 0.9 - n / 10, heatmap=_blob(3, 2 + n))
    return version, shipped


def test_an_admin_goes_from_the_matrix_to_the_photos_and_their_heatmaps(page, expect, screenshot, live_url, versions):
    version, shipped = versions
    log_in_to_the_admin(page, live_url, "ada", PASSWORD)
    page.goto(f"{live_url}/admin/trainer/modelversion/{version.pk}/change/")
    screenshot(page, "version")

    page.click(".confusion a[data-true=cat][data-predicted=dog]")
    page.wait_for_url(f"{live_url}/admin/trainer/modelversion/{version.pk}/test-photos/cat/dog/")
    photos = page.locator("li.test-photo")
    expect(photos).to_have_count(2)
    expect(photos.first).to_have_attribute("data-name", "cat.4005.jpg")  # the most confident mistake first
    assert_images_loaded(page)
    heatmaps = page.locator("img[data-heatmap]")
    expect(heatmaps.first).to_be_visible()
    # The heatmap lies exactly over the photo: same box.
    photo_box, heatmap_box = page.locator("img.photo").first.bounding_box(), heatmaps.first.bounding_box()
    assert photo_box == pytest.approx(heatmap_box, abs=1)
    screenshot(page, "cat-answered-dog")

    page.click("label[for=show-heatmaps]")
    expect(heatmaps.first).to_be_hidden()
    screenshot(page, "heatmaps-hidden")
    page.click("label[for=show-heatmaps]")
    expect(heatmaps.first).to_be_visible()

    page.goto(f"{live_url}/admin/trainer/modelversion/{version.pk}/change/")
    page.click("a[data-mistakes]")
    expect(page.locator("li.test-photo")).to_have_count(3)
    assert_images_loaded(page)
    screenshot(page, "worst-mistakes")
    page.set_viewport_size(PHONE)
    assert_fits_the_width(page)
    screenshot(page, "worst-mistakes-phone")


def test_photos_catdog_does_not_keep_show_their_heatmaps_and_why(page, expect, screenshot, live_url, versions):
    _, shipped = versions
    log_in_to_the_admin(page, live_url, "ada", PASSWORD)
    page.goto(f"{live_url}/admin/trainer/modelversion/{shipped.pk}/mistakes/")
    expect(page.locator("li.test-photo")).to_have_count(2)
    expect(page.locator("[data-not-kept-note]")).to_contain_text("outside catdog's datasets")
    expect(page.locator("img.photo")).to_have_count(0)
    assert_images_loaded(page)
    page.click("label[for=show-heatmaps]")
    expect(page.locator("img[data-heatmap]").first).to_be_visible()  # without a photo it is all there is
    screenshot(page, "not-kept")
