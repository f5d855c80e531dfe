"""The heatmap in a real browser: a phone photo stored on its side (EXIF orientation 6) is answered by a real
worker with the shipped model, the heatmap comes over the upright photo exactly, and the switch hides and
shows it from the keyboard and the mouse, with no script of the page's own."""

import io

import pytest
from django.core.management import call_command
from PIL import Image

from ..conftest import shared_photo
from .browser import assert_images_loaded

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


@pytest.fixture
def robin(django_user_model):
    return django_user_model.objects.create_user(username="robin", password=PASSWORD)


def _stored_on_its_side(path) -> bytes:
    """The photo as a phone stores it when held upright: pixels turned a quarter, EXIF saying to turn them back."""
    with Image.open(path) as photo:
        turned = photo.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    turned.save(out, format="JPEG", quality=92, exif=exif)
    return out.getvalue()


def _box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def test_the_heatmap_lies_over_the_upright_photo_and_the_switch_toggles_it(
    page, expect, screenshot, live_url, robin, prediction_worker, real_workers
):
    call_command("ensure_shipped_model", verbosity=0)
    page.emulate_media(reduced_motion="reduce")  # no transitions: the screenshots show the switch at rest
    page.goto(f"{live_url}/accounts/login/")
    page.fill("#id_username", "robin")
    page.fill("#id_password", PASSWORD)
    page.click("[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/")

    cat = shared_photo("cat", 4001)
    with Image.open(cat) as original:
        upright_ratio = original.width / original.height
    photo = {"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": _stored_on_its_side(cat)}
    page.set_input_files("[data-upload-form] input[type=file]", photo)
    page.click("[data-upload-submit]")
    page.wait_for_url(f"{live_url}/predictions/*/")
    overlay = page.locator("[data-heatmap]")
    expect(overlay).to_be_visible(timeout=60_000)  # brought by the page's poll, or there on arrival
    expect(page.locator('.result [data-field="label"]')).to_have_text("cat")
    assert_images_loaded(page)
    photo_box, overlay_box = _box(page, "[data-photo]"), _box(page, "[data-heatmap]")
    for key in ("x", "y", "width", "height"):
        assert abs(photo_box[key] - overlay_box[key]) < 1, (photo_box, overlay_box)
    shown_ratio = photo_box["width"] / photo_box["height"]
    assert abs(shown_ratio - upright_ratio) < 0.01, "the photo is shown upright, as it was taken"
    ratio = page.evaluate(
        "[...document.querySelectorAll('[data-photo], [data-heatmap]')].map(i => i.naturalWidth / i.naturalHeight)"
    )
    assert abs(ratio[0] - ratio[1]) < 0.01, ratio
    expect(page.locator(".heatmap-caption")).to_contain_text("Brighter areas weighed most in the answer “cat”")
    screenshot(page, "heatmap-shown")

    switch = page.get_by_label("Show where the model looked")
    switch.focus()
    page.keyboard.press("Space")
    expect(switch).not_to_be_checked()
    expect(overlay).to_be_hidden()
    screenshot(page, "heatmap-hidden")
    page.click(".heatmap-switch")
    expect(switch).to_be_checked()
    expect(overlay).to_be_visible()
