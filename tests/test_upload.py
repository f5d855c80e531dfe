"""Uploading photos through the page: what is accepted, and every way a file is refused."""

import io
import os

import pytest
from django.urls import reverse
from PIL import Image

from classifier.models import Prediction

from .conftest import image_bytes, shared_photo, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, user):
    client.force_login(user)
    return client


def _post(client, *files):
    return client.post(reverse("classifier:upload"), {"images": list(files)})


def _stored_files(settings):
    root = settings.MEDIA_ROOT
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("JPEG", "a.jpg"), ("PNG", "a.png"), ("WEBP", "a.webp"), ("BMP", "a.bmp"), ("GIF", "a.gif")],
)
def test_it_accepts_each_supported_format(client, user, fmt, name):
    r = _post(client, upload(name, image_bytes(fmt)))
    prediction = Prediction.objects.get()
    assert r.status_code == 302
    assert r.url == reverse("classifier:detail", args=[prediction.pk])
    assert prediction.owner == user
    assert prediction.status == Prediction.Status.PENDING
    assert prediction.image_format == fmt
    assert (prediction.width, prediction.height) == (64, 48)
    assert prediction.original_name == name


def test_it_validates_by_content_not_by_name(client):
    r = _post(client, upload("holiday.txt", image_bytes("PNG")))
    assert r.status_code == 302
    prediction = Prediction.objects.get()
    assert prediction.image_format == "PNG"
    assert prediction.image.name.endswith(".png")  # stored under the real type, not the given name


def test_it_takes_several_photos_at_once(client):
    r = _post(client, upload("a.png", image_bytes("PNG")), upload("b.jpg", image_bytes("JPEG")))
    assert r.status_code == 302
    assert r.url == reverse("classifier:history")
    assert sorted(Prediction.objects.values_list("original_name", flat=True)) == ["a.png", "b.jpg"]


def test_it_accepts_a_real_phone_sized_photo(client):
    r = _post(client, upload("cat.jpg", shared_photo("cat", 4001).read_bytes()))
    assert r.status_code == 302
    assert Prediction.objects.get().image_format == "JPEG"


def _assert_refused(r, settings, fragment: str):
    assert r.status_code == 400
    errors = " ".join(r.context["form"].errors["images"])
    assert fragment in errors
    assert fragment in r.content.decode()  # shown on the page, next to the field
    assert Prediction.objects.count() == 0
    assert _stored_files(settings) == []


def test_it_rejects_a_text_file_named_jpg(client, settings):
    r = _post(client, upload("x.jpg", b"this is not a photo at all\n" * 10))
    _assert_refused(r, settings, "x.jpg is not an image we can read")


def test_it_rejects_a_truncated_jpeg(client, settings):
    data = image_bytes("JPEG", size=(400, 300))
    r = _post(client, upload("cut.jpg", data[: len(data) // 2]))
    _assert_refused(r, settings, "cut.jpg is damaged or incomplete")


def test_it_rejects_a_corrupt_png(client, settings):
    data = bytearray(image_bytes("PNG", size=(200, 200)))
    data[60:120] = b"\x00" * 60  # inside the compressed pixel data
    r = _post(client, upload("bad.png", bytes(data)))
    _assert_refused(r, settings, "bad.png is damaged or incomplete")


def test_it_rejects_a_file_over_the_size_limit(client, settings):
    settings.CATDOG_MAX_UPLOAD_BYTES = 1000
    noise = Image.frombytes("L", (100, 100), os.urandom(100 * 100))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    r = _post(client, upload("big.png", out.getvalue()))
    _assert_refused(r, settings, "the limit is 1000")


def test_it_rejects_an_image_over_the_pixel_limit(client, settings):
    settings.CATDOG_MAX_IMAGE_PIXELS = 10_000
    r = _post(client, upload("huge.png", image_bytes("PNG", size=(200, 100))))
    _assert_refused(r, settings, "huge.png is 200×100 pixels")


def test_it_rejects_a_decompression_bomb_before_decoding_it(client, settings):
    # 20,000 x 20,000 black pixels compress to a few hundred kilobytes.
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")
    r = _post(client, upload("bomb.png", out.getvalue()))
    _assert_refused(r, settings, "400 megapixels")


def test_it_rejects_an_unsupported_image_format(client, settings):
    r = _post(client, upload("scan.tiff", image_bytes("TIFF")))
    _assert_refused(r, settings, "scan.tiff is a TIFF image")


def test_it_rejects_an_empty_file_by_name_and_still_checks_the_others(client, settings):
    r = _post(client, upload("empty.jpg", b""), upload("notes.jpg", b"not a photo"))
    _assert_refused(r, settings, "empty.jpg is empty.")
    assert "notes.jpg is not an image we can read" in r.content.decode()


def test_the_page_states_the_configured_limits(client, settings):
    settings.CATDOG_MAX_UPLOAD_BYTES = 3 * 1024 * 1024
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 7
    page = client.get(reverse("classifier:upload")).content.decode()
    assert "3.0\xa0MB" in page or "3.0 MB" in page
    assert "7" in page


def test_it_rejects_a_post_without_a_file(client, settings):
    r = client.post(reverse("classifier:upload"), {})
    _assert_refused(r, settings, "Choose at least one photo.")


def test_it_rejects_too_many_files_at_once(client, settings):
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 2
    r = _post(client, *[upload(f"{i}.png", image_bytes("PNG")) for i in range(3)])
    _assert_refused(r, settings, "at most 2 photos")


def test_one_bad_photo_in_a_batch_stores_none(client, settings):
    r = _post(client, upload("good.png", image_bytes("PNG")), upload("bad.jpg", b"not an image"))
    _assert_refused(r, settings, "bad.jpg is not an image we can read")


def test_the_thumbnail_is_upright_and_carries_no_exif(client):
    # A 60x20 landscape JPEG whose EXIF says "rotate 90": the person sees it as 20x60 portrait.
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"  # camera make: must not leak into the thumbnail
    r = _post(client, upload("rot.jpg", image_bytes("JPEG", size=(60, 20), exif=exif)))
    assert r.status_code == 302
    prediction = Prediction.objects.get()
    with prediction.thumbnail.open("rb") as f:
        thumbnail = Image.open(f)
        thumbnail.load()
    assert thumbnail.size == (20, 60)
    assert len(thumbnail.getexif()) == 0


def test_anonymous_upload_is_sent_to_log_in(client):
    client.logout()
    r = _post(client, upload("a.png", image_bytes("PNG")))
    assert r.status_code == 302
    assert r.url.startswith(reverse("login"))
    assert Prediction.objects.count() == 0


def _phone_jpeg(size=(4000, 3000)) -> bytes:
    """A 12-megapixel JPEG with detail in it, as a phone takes."""
    picture = Image.merge("RGB", [Image.effect_noise(size, 40 + 20 * band) for band in range(3)])
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_the_web_process_decodes_a_large_jpeg_at_a_reduced_scale(client, monkeypatch):
    from trainer import images as validation

    decoded = []
    make_thumbnail = validation._make_thumbnail
    monkeypatch.setattr(
        validation, "_make_thumbnail", lambda image: decoded.append(image.size) or make_thumbnail(image)
    )
    r = _post(client, upload("phone.jpg", _phone_jpeg()))
    assert r.status_code == 302
    assert decoded == [(500, 375)]  # an eighth of each side: a 64th of the pixels, still over the thumbnail
    prediction = Prediction.objects.get()
    assert (prediction.width, prediction.height) == (4000, 3000)  # the photo's own size, from the header


def test_a_truncated_large_jpeg_is_still_refused_at_the_reduced_scale(client, settings):
    data = _phone_jpeg()
    r = _post(client, upload("cut.jpg", data[: len(data) * 9 // 10]))
    _assert_refused(r, settings, "cut.jpg is damaged or incomplete")


def test_an_upload_leaves_pillows_bomb_guard_on(client):
    assert _post(client, upload("a.png", image_bytes("PNG"))).status_code == 302
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(out)  # anything else in the web process that opens an image is still guarded
