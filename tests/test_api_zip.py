"""`POST /api/predictions/` with `archive`: a zip of photos, within the upload page's limits, read as dataset archives
are (zip bombs refused whole, entries leading out of it rejected). 202 with a prediction for each photo that passed
and each rejected entry's reason; a zip with nothing usable in it, or refused whole, stores nothing."""

import pytest

from classifier.models import IdempotencyKey, Prediction

from .conftest import upload
from .dataset_helpers import media_files, photo, zip_bytes

pytestmark = pytest.mark.django_db

URL = "/api/predictions/"


@pytest.fixture
def api(signed_in_api):
    return signed_in_api


def _send(api, archive: bytes, name="photos.zip", **headers):
    return api.post(URL, {"archive": upload(name, archive)}, format="multipart", **headers)


def test_each_photo_of_the_zip_becomes_a_pending_prediction(api, user):
    r = _send(api, zip_bytes({"holiday/cat.png": photo(1), "dog.jpg": photo(2, "JPEG"), "more/deep/3.webp": photo(3)}))
    assert r.status_code == 202
    body = r.json()
    predictions = Prediction.objects.order_by("pk")
    assert [row["id"] for row in body["predictions"]] == [p.pk for p in predictions]
    assert {row["url"] for row in body["predictions"]} == {
        f"http://testserver/api/predictions/{p.pk}/" for p in predictions
    }
    assert {row["status"] for row in body["predictions"]} == {"pending"}
    assert body["rejected"] == []
    assert sorted(p.original_name for p in predictions) == ["3.webp", "cat.png", "dog.jpg"]
    assert {p.owner for p in predictions} == {user}
    assert "Location" not in r


def test_entries_that_are_no_photos_or_lead_out_of_the_archive_are_rejected_with_their_reasons(api):
    archive = zip_bytes(
        {"good.png": photo(1), "notes.txt": b"not a photo", "../evil.png": photo(2), "/etc/abs.png": photo(3)},
        symlinks={"link.png": "/etc/passwd"},
    )
    r = _send(api, archive)
    assert r.status_code == 202
    body = r.json()
    assert len(body["predictions"]) == 1 and Prediction.objects.get().original_name == "good.png"
    reasons = {row["name"]: row["reason"] for row in body["rejected"]}
    assert set(reasons) == {"notes.txt", "../evil.png", "/etc/abs.png", "link.png"}
    assert "not an image we can read" in reasons["notes.txt"]
    assert "leading out of the archive" in reasons["../evil.png"] and "leading out" in reasons["/etc/abs.png"]
    assert "symbolic link" in reasons["link.png"]


def test_a_photo_over_the_size_limit_is_rejected_and_the_others_kept(api, settings):
    small, large = photo(1), photo(2, size=(400, 300))
    settings.CATDOG_MAX_UPLOAD_BYTES = len(small) + 10
    r = _send(api, zip_bytes({"small.png": small, "large.png": large}))
    assert r.status_code == 202
    [rejected] = r.json()["rejected"]
    assert rejected["name"] == "large.png" and "the limit is" in rejected["reason"]
    assert Prediction.objects.get().original_name == "small.png"


def test_a_damaged_entry_is_rejected(api):
    archive = bytearray(zip_bytes({"a.png": photo(1), "b.png": photo(2)}))
    offset = archive.index(b"b.png") + len(b"b.png") + 20  # inside b.png's compressed data
    archive[offset] ^= 0xFF
    r = _send(api, bytes(archive))
    assert r.status_code == 202
    [rejected] = r.json()["rejected"]
    assert rejected["name"] == "b.png"
    assert Prediction.objects.get().original_name == "a.png"


def test_macos_clutter_is_ignored_not_rejected(api):
    r = _send(api, zip_bytes({"a.png": photo(1), "__MACOSX/._a.png": b"\x00\x05", ".DS_Store": b"x"}))
    assert r.status_code == 202
    assert r.json()["rejected"] == []
    assert Prediction.objects.count() == 1


def test_macos_clutter_does_not_count_against_the_limit(api, settings):
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 2
    clutter = {"__MACOSX/._a.png": b"\x00\x05", "__MACOSX/._b.png": b"\x00\x05", ".DS_Store": b"x"}
    r = _send(api, zip_bytes({"a.png": photo(1), "b.png": photo(2), **clutter}))
    assert r.status_code == 202
    assert len(r.json()["predictions"]) == 2


def test_a_zip_with_nothing_usable_is_refused_whole_saying_why_for_each_entry(api, settings):
    r = _send(api, zip_bytes({"notes.txt": b"not a photo", "../evil.png": photo(2)}))
    assert r.status_code == 400
    [summary, *reasons] = r.json()["archive"]
    assert summary == "photos.zip holds no photo that can be used."
    assert any(reason.startswith("notes.txt: ") for reason in reasons)
    assert any(reason.startswith("../evil.png: ") for reason in reasons)
    assert not Prediction.objects.exists() and media_files(settings) == set()


def test_an_empty_zip_is_refused(api):
    r = _send(api, zip_bytes({}))
    assert r.status_code == 400
    assert r.json()["archive"] == ["photos.zip holds no photo that can be used."]


def test_a_zip_bomb_is_refused_whole_before_it_is_unpacked(api, settings):
    bomb = zip_bytes({"a.png": photo(1), "big.bmp": bytes(50 * 1024 * 1024)})
    assert len(bomb) < 200_000
    r = _send(api, bomb)
    assert r.status_code == 400
    [message] = r.json()["archive"]
    assert "big.bmp unpacks" in message and "zip bomb" in message
    assert not Prediction.objects.exists() and media_files(settings) == set()


def test_more_photos_than_the_upload_page_takes_are_refused_whole(api, settings):
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 2
    r = _send(api, zip_bytes({f"{n}.png": photo(n) for n in range(3)}))
    assert r.status_code == 400
    assert r.json()["archive"] == ["photos.zip: The archive holds more than 2 files."]
    assert not Prediction.objects.exists() and media_files(settings) == set()


def test_a_zip_that_would_unpack_beyond_the_total_is_refused_whole(api, settings):
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 2
    settings.CATDOG_MAX_UPLOAD_BYTES = 1000
    archive = zip_bytes({"a.png": photo(1), "b.bmp": photo(2, "BMP", size=(30, 30))})  # 2.7 kB unpacked
    assert len(archive) <= 2000
    r = _send(api, archive)
    assert r.status_code == 400
    [message] = r.json()["archive"]
    assert message.startswith("photos.zip: The archive holds ") and "the limit is 2.0\xa0KB" in message
    assert not Prediction.objects.exists()


def test_an_archive_larger_than_all_its_photos_may_be_is_refused(api, settings):
    archive = zip_bytes({"a.png": photo(1), "b.png": photo(2)})
    settings.CATDOG_MAX_FILES_PER_UPLOAD = 1
    settings.CATDOG_MAX_UPLOAD_BYTES = len(archive) - 1
    r = _send(api, archive)
    assert r.status_code == 400
    assert "an archive may be at most" in r.json()["archive"][0]


def test_a_file_that_is_not_a_zip_is_refused(api):
    r = _send(api, photo(1), name="photo.zip")
    assert r.status_code == 400
    assert r.json()["archive"] == ["photo.zip: The uploaded file is not a zip archive, or it is damaged."]


def test_a_photo_and_a_zip_together_are_refused(api):
    r = api.post(
        URL,
        {"image": upload("a.png", photo(1)), "archive": upload("b.zip", zip_bytes({"b.png": photo(2)}))},
        format="multipart",
    )
    assert r.status_code == 400
    assert list(r.json()) == ["archive"] and "not both" in r.json()["archive"][0]
    assert not Prediction.objects.exists()


def test_a_retried_zip_with_the_same_key_gets_the_first_answer(api):
    archive = zip_bytes({"a.png": photo(1), "b.png": photo(2), "c.txt": b"no"})
    first = _send(api, archive, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = _send(api, archive, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Prediction.objects.count() == 2 and IdempotencyKey.objects.count() == 1


def test_an_encrypted_entry_is_rejected(api):
    archive = bytearray(zip_bytes({"a.png": photo(1), "secret.png": photo(2)}))
    # Mark secret.png encrypted in the central directory, as an encrypting tool does (its bytes are never read).
    entry = archive.rindex(b"PK\x01\x02")  # the last entry of the central directory
    assert archive[entry + 46 : entry + 56] == b"secret.png"
    archive[entry + 8] |= 0x1
    r = _send(api, bytes(archive))
    assert r.status_code == 202
    assert r.json()["rejected"] == [{"name": "secret.png", "reason": "skipped: the entry is encrypted"}]
