"""An admin in a real browser: adds a dataset as a zip, sees it checked, trains a tiny model on it and watches
the training's progress. Live server, a real worker on the training and datasets queues, Debian's Chromium."""

import time
import zipfile

import pytest

from trainer.models import ModelVersion

from ..conftest import SHARED_DATA, needs_shared_photos
from ..dataset_helpers import noise_photo
from .browser import (
    DESKTOP,
    PHONE,
    assert_fits_the_width,
    assert_images_loaded,
    assert_no_sideways_scroll,
    log_in_to_the_admin,
)

pytestmark = [needs_shared_photos, pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PHOTOS, NOISE = 5, 4  # per class
PER_CLASS = PHOTOS + NOISE


@pytest.fixture
def pets_zip(tmp_path, settings):
    """Five real photos and four of random pixels per class, one folder per class: over 6 MB, so that the
    upload takes the path of every real dataset (Django keeps it on disk, not in memory)."""
    path = tmp_path / "pets.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for label in ("cat", "dog"):
            for n in range(1, PHOTOS + 1):
                archive.write(SHARED_DATA / "train" / label / f"{label}.{n}.jpg", f"{label}/{n}.jpg")
            for n in range(NOISE):
                archive.writestr(f"{label}/noise-{n}.png", noise_photo(f"{label}-{n}"))
    assert path.stat().st_size > max(6 * 1024 * 1024, settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    return path


@pytest.fixture
def admin_password(django_user_model):
    django_user_model.objects.create_superuser(username="ada", password="correct horse battery")
    return "correct horse battery"


def test_an_admin_adds_a_dataset_trains_a_model_on_it_and_watches_the_progress(
    page, expect, screenshot, live_url, training_worker, real_workers, pets_zip, admin_password
):
    _log_in(page, screenshot, live_url, admin_password)
    _add_the_dataset(page, expect, screenshot, live_url, pets_zip)

    # A tiny training: a simple CNN at 32x32, for enough epochs (40: some 4 s in all) that the page's poll,
    # every 2 s, sees it change in place more than once.
    page.click("[data-action=train]")
    page.wait_for_url(f"{live_url}/admin/trainer/dataset/*/train/")
    page.select_option("#id_architecture", "simple_cnn")
    page.fill("#id_image_size", "32")
    page.fill("#id_epochs", "40")
    page.fill("#id_batch_size", "4")
    screenshot(page, "train-form")
    page.click("[data-submit-training]")
    page.wait_for_url(f"{live_url}/admin/trainer/modelversion/*/change/")
    expect(page.locator(".messagelist")).to_contain_text("Queued the training of")

    _see_it_train_in_place(page, expect, screenshot)
    page.set_viewport_size(PHONE)  # on a phone the curves shrink to the screen
    assert_fits_the_width(page)
    screenshot(page, "version-ready-phone")
    page.set_viewport_size(DESKTOP)
    version = ModelVersion.objects.get()
    assert version.status == ModelVersion.Status.READY
    assert version.params["architecture"] == "simple_cnn" and version.params["epochs"] == 40

    # The version list shows every column beside the admin's menu and filters.
    page.goto(f"{live_url}/admin/trainer/modelversion/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    assert_no_sideways_scroll(page, "#changelist .results")
    screenshot(page, "version-list")


def _log_in(page, screenshot, live_url, admin_password):
    log_in_to_the_admin(page, live_url, "ada", admin_password)
    screenshot(page, "admin-index")


def _add_the_dataset(page, expect, screenshot, live_url, pets_zip):
    # Add the dataset; its page refreshes itself until the worker has checked it.
    page.goto(f"{live_url}/admin/trainer/dataset/add/")
    page.fill("#id_name", "pets")
    page.set_input_files("#id_archive", pets_zip)
    screenshot(page, "dataset-add")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_url}/admin/trainer/dataset/*/change/")
    expect(page.locator("#dataset-report")).to_have_attribute("data-status", "ready", timeout=60_000)
    rows = page.locator("#dataset-report tbody tr")
    expect(rows).to_have_count(2)
    for row, label in zip(rows.all(), ("cat", "dog"), strict=True):
        expect(row.locator("td").nth(0)).to_have_text(label)
        expect(row.locator("td").nth(1)).to_have_text(str(PER_CLASS))
        expect(row.locator(".samples img")).not_to_have_count(0)
    assert_images_loaded(page)
    screenshot(page, "dataset-ready")


def _see_it_train_in_place(page, expect, screenshot):
    # The version page shows the training as it runs, updated in place, then reloads once when it ends.
    panel = page.locator("#training-panel")
    page.evaluate("window.__marker = 'same page'")
    seen = _watch_training(page, screenshot)
    assert seen[-1][:2] == ("ready", ""), (seen, panel.inner_text())
    running = [phase for status, phase, _ in seen if status == "running"]
    assert running, f"the page never showed the training running: {seen}"
    assert any(running), f"the running training never said what it was doing: {seen}"
    # The marker set on the page as it opened: still there, the page changed in place; gone, it reloaded.
    in_place = [(status, phase) for status, phase, same_page in seen if same_page]
    assert len(set(in_place)) >= 2 and ("running", running[-1]) in in_place, f"not updated in place: {seen}"
    assert not seen[-1][2], f"the page did not reload once the training ended: {seen}"
    expect(panel).to_contain_text("Ready: test accuracy")
    expect(page.locator(".confusion td.cell")).to_have_count(4)
    # The training calibrated its version on its own: measured on its held-out photos, at each operating point.
    expect(page.locator("[data-calibration] [data-measured]")).to_contain_text("Measured when it was trained")
    expect(page.locator("[data-calibration] [data-operating-point]")).to_have_count(3)
    screenshot(page, "version-ready")


def _watch_training(page, screenshot, timeout: float = 75) -> list[tuple[str, str, bool]]:
    """Every (status, phase, whether the page is the one first shown) until the training ends; a
    screenshot of each while it runs."""
    from playwright.sync_api import Error as PlaywrightError

    read = """() => {
        const panel = document.getElementById("training-panel");
        const phase = panel && panel.dataset.status === "running" && panel.querySelector("p strong");
        return panel && [panel.dataset.status, phase ? phase.textContent : "", window.__marker === "same page"];
    }"""
    seen: list[tuple[str, str, bool]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = page.evaluate(read)
        except PlaywrightError:  # the page was reloading just then
            state = None
        if not state:
            time.sleep(0.2)
            continue
        status, phase, same_page = state
        if not seen or seen[-1] != (status, phase, same_page):
            seen.append((status, phase, same_page))
            if status == "running" and same_page:
                screenshot(page, f"version-running-{len(seen)}")
        if status not in ("queued", "running"):
            return seen
        time.sleep(0.2)
    return seen
