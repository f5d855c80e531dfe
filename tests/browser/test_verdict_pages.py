"""The verdicts as a person sees them: the history's cards and filter, a detail page for each kind of answer,
at desktop and phone widths, and the version's Calibration section in the admin, where an administrator
chooses the operating point."""

from pathlib import Path

import pytest

from classifier.actions import do_create_predictions
from classifier.models import Prediction
from classifier.validation import check_image_upload
from trainer.models import ModelVersion

from ..conftest import SHARED_DATA, needs_shared_photos, shared_photo, upload
from ..verdict_helpers import CALIBRATION_REPORT as REPORT
from .browser import PHONE, assert_fits_the_width, assert_images_loaded

pytestmark = [needs_shared_photos, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
OUTLIER = SHARED_DATA.parent / "outliers-lowres" / "airplane_0003.jpg"  # 30 x 30 px, as the set's photos are


def _screenshot_of_a_form(path: Path) -> Path:
    """A drawing of a log-in page, the kind of photo the issue saw answered "Dog, 71.5% confident"."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 520), (245, 246, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 800, 60), fill=(255, 255, 255))
    draw.rectangle((250, 110, 550, 430), fill=(255, 255, 255), outline=(226, 229, 237))
    for top in (190, 270):
        draw.rectangle((280, top, 520, top + 40), outline=(201, 206, 218), width=2)
    draw.rectangle((280, 350, 520, 392), fill=(79, 70, 229))
    draw.text((280, 140), "Log in", fill=(23, 26, 35))
    image.save(path, format="PNG")
    return path


@pytest.fixture
def answers(monkeypatch, django_user_model, tmp_path):
    """Robin's answered photos, one of each kind, by the active 2-class version and an earlier 3-class one."""
    monkeypatch.setattr("classifier.actions.predictions._enqueue", lambda pk: True)  # answered below, not by a worker
    robin = django_user_model.objects.create_user(username="robin", password=PASSWORD)
    pets = ModelVersion.objects.create(
        name="mobilenet_v2-catsdogs", architecture="mobilenet_v2", status="ready", class_names=["cat", "dog"],
        is_active=True, calibration="models/pets-calibration.npz", calibration_report=REPORT,
    )  # fmt: skip
    birds = ModelVersion.objects.create(
        name="birds-cats-dogs", architecture="mobilenet_v2", status="ready", class_names=["bird", "cat", "dog"]
    )
    made = {}
    for key, path, version, verdict, probabilities in [
        ("bird-other", OUTLIER, birds, "other", {"bird": 0.41, "cat": 0.12, "dog": 0.47}),
        ("unsure", shared_photo("dog", 4013), pets, "unsure", {"cat": 0.55, "dog": 0.45}),
        ("other", _screenshot_of_a_form(tmp_path / "login-page.png"), pets, "other", {"cat": 0.285, "dog": 0.715}),
        ("cat", shared_photo("cat", 4001), pets, "cat", {"cat": 0.981, "dog": 0.019}),
    ]:
        made[key] = _answered(robin, Path(path), version, verdict, probabilities)
    return made


def _answered(owner, path: Path, version, verdict, probabilities) -> Prediction:
    [prediction] = do_create_predictions(owner, [check_image_upload(upload(path.name, path.read_bytes()))])
    label = max(probabilities, key=probabilities.get)
    Prediction.objects.filter(pk=prediction.pk).update(
        status="done", label=label, verdict=verdict, confidence=probabilities[label], probabilities=probabilities,
        model_version=version, inference_ms=18.0,
    )  # fmt: skip
    return prediction


def _log_in(page, live_url, username="robin") -> None:
    page.goto(f"{live_url}/accounts/login/?next=/predictions/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("[data-login-form] button[type=submit]")
    page.wait_for_url(f"{live_url}/predictions/")


def test_the_history_and_each_detail_page_say_the_verdict(page, expect, screenshot, chromium, live_url, answers):
    _log_in(page, live_url)
    cards = page.locator("[data-prediction]")
    expect(cards).to_have_count(4)
    expect(page.locator(f"#prediction-{answers['cat'].pk} [data-field=verdict]")).to_have_text("cat")
    expect(page.locator(f"#prediction-{answers['unsure'].pk} [data-field=verdict]")).to_have_text("Can't tell")
    expect(page.locator(f"#prediction-{answers['unsure'].pk} [data-field=verdict-detail]")).to_have_text(
        "cat 55%, dog 45%"
    )
    expect(page.locator(f"#prediction-{answers['other'].pk} [data-field=verdict]")).to_have_text("Not a cat or a dog")
    expect(page.locator(f"#prediction-{answers['bird-other'].pk} [data-field=verdict]")).to_have_text(
        "Not a bird, a cat or a dog"
    )
    inside = "e => e.getBoundingClientRect().right <= e.closest('li').getBoundingClientRect().right"
    for words in page.locator("[data-prediction] [data-field=verdict]").all():
        assert words.evaluate(inside), f"{words.text_content()} sticks out of its card"
    assert_images_loaded(page)
    screenshot(page, "history")

    page.click("[data-filters] [data-verdict=other]")
    page.wait_for_url(f"{live_url}/predictions/?verdict=other")
    expect(cards).to_have_count(2)
    expect(page.locator("[data-filters] [aria-current=true]")).to_contain_text("None of these")
    screenshot(page, "history-none-of-these")
    page.goto(f"{live_url}/predictions/?verdict=horse")
    expect(page.locator("[data-unknown-verdict]")).to_contain_text("No answer can be “horse”")
    expect(cards).to_have_count(4)
    screenshot(page, "history-unknown-verdict")

    phone = chromium.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    phone.goto(f"{live_url}/predictions/")
    assert_fits_the_width(phone)
    for words in phone.locator("[data-prediction] [data-field=verdict]").all():
        assert words.evaluate(inside), f"{words.text_content()} sticks out of its card on a phone"
    screenshot(phone, "history-phone")

    for key, words in [
        ("cat", "cat"),
        ("unsure", "Can't tell"),
        ("other", "Not a cat or a dog"),
        ("bird-other", "Not a bird, a cat or a dog"),
    ]:
        for shown, width in ((page, "desktop"), (phone, "phone")):
            shown.goto(f"{live_url}/predictions/{answers[key].pk}/")
            expect(shown.locator(".result [data-field=verdict]")).to_have_text(words)
            classes = len(Prediction.objects.get(pk=answers[key].pk).probabilities)
            expect(shown.locator(".result [data-class]")).to_have_count(classes)
            if key != "cat":
                expect(shown.locator("[data-verdict-explanation]")).to_be_visible()
            assert_fits_the_width(shown)
            assert shown.locator(".result [data-field=verdict]").evaluate(inside.replace("'li'", "'section'"))
            screenshot(shown, f"detail-{key}-{width}")
    phone.context.close()


def test_an_administrator_reads_the_calibration_and_chooses_the_operating_point(
    page, expect, screenshot, live_url, answers, django_user_model
):
    django_user_model.objects.create_superuser(username="ada", password=PASSWORD)
    version = ModelVersion.objects.get(is_active=True)
    page.goto(f"{live_url}/admin/login/?next=/admin/trainer/modelversion/{version.pk}/change/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    section = page.locator("[data-calibration]")
    expect(section.locator("[data-operating-point=balanced]")).to_contain_text("(in use)")
    section.scroll_into_view_if_needed()
    screenshot(page, "version-calibration")

    page.check("#op-strict")
    page.click("[data-action=set-operating-point]")
    expect(page.locator(".messagelist")).to_contain_text("from balanced to strict")
    expect(section.locator("[data-operating-point=strict]")).to_contain_text("(in use)")
    expect(section).to_contain_text("Operating point chosen by ada on")
    screenshot(page, "version-calibration-strict")
    version.refresh_from_db()
    assert version.operating_point == "strict"

    page.goto(f"{live_url}/admin/trainer/modelversion/{ModelVersion.objects.get(name='birds-cats-dogs').pk}/change/")
    expect(page.locator("[data-no-calibration]")).to_contain_text("This version has no calibration")
    screenshot(page, "version-without-calibration")
