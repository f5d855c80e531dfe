"""An admin looks at a dataset version in a real browser: its lineage, what it added, its frozen test split, with its
samples loaded; then turns on the lineage's automatic promotion on the root's page (a small form whose checkbox sits
inside the admin's own form and belongs to it by its `form` attribute); at desktop and phone widths."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from trainer.actions import NewImage, do_derive_dataset_version
from trainer.models import Dataset

from ..dataset_helpers import class_folders, photo, zip_bytes
from .browser import PHONE, assert_fits_the_width, assert_images_loaded, log_in_to_the_admin

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


@pytest.fixture
def lineage(make_dataset, django_user_model):
    ada = django_user_model.objects.create_superuser(username="ada", password=PASSWORD)
    root = make_dataset("pets", archive=zip_bytes(class_folders({"cat": 6, "dog": 6})))
    additions = [
        NewImage(label, default_storage.save(f"uploads/{n}.png", ContentFile(photo(n))), f"prediction {n}")
        for n, label in [(101, "cat"), (102, "dog"), (103, "horse")]
    ]
    return root, do_derive_dataset_version(root, additions, by=ada)


def test_an_admin_reads_a_version_and_turns_on_its_lineages_promotion(page, expect, screenshot, live_url, lineage):
    root, version = lineage
    log_in_to_the_admin(page, live_url, "ada", PASSWORD)

    page.goto(f"{live_url}/admin/trainer/dataset/{version.pk}/change/")
    expect(page.locator('[data-section="lineage"] .chain')).to_have_text("Lineage: pets → pets v2")
    expect(page.locator("[data-frozen]")).to_contain_text("This is a frozen version of pets")
    expect(page.locator('[data-section="test-split"] h2')).to_have_text("Frozen test split (2 photos)")
    expect(page.locator("[data-left-out]")).to_contain_text("horse is not a class of pets")
    page.click("text=Where the 2 added photos came from")
    expect(page.locator(".origins li")).to_have_text(["prediction 101", "prediction 102"])
    expect(page.locator("text=Check again")).to_have_count(0)
    page.locator(".dataset-report").scroll_into_view_if_needed()
    assert_images_loaded(page)
    screenshot(page, "version")

    page.click('[data-section="lineage"] .chain a')
    page.check("#id_auto_promote")
    page.click("text=Save this setting")
    expect(page.locator(".messagelist")).to_have_text("Automatic promotion is on for the lineage of pets.")
    expect(page.locator("#id_auto_promote")).to_be_checked()
    assert Dataset.objects.get(pk=root.pk).auto_promote
    screenshot(page, "root")

    page.set_viewport_size(PHONE)
    page.goto(f"{live_url}/admin/trainer/dataset/{version.pk}/change/")
    assert_fits_the_width(page)
    screenshot(page, "version-phone")
