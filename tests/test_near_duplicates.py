"""Near-duplicate photos (trainer/near_duplicates.py): fingerprints taken at ingestion or filled in later,
copies found and other photos not, and the near-duplicate section of the dataset's admin page."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from PIL import Image, ImageOps

from trainer.admin.near_duplicates import near_duplicate_report
from trainer.models import DatasetImage
from trainer.near_duplicates import Fingerprints, fingerprint_of_file, near_pairs

from .conftest import shared_photo
from .dataset_helpers import class_folders, photo, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db

CAT, OTHER_CAT, DOG = shared_photo("cat", 4001), shared_photo("cat", 4005), shared_photo("dog", 4001)


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def copy_of(path, kind: str) -> bytes:
    """A near-duplicate of a photo, as bench/bench_near_duplicates.py makes them."""
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    dx, dy = width // 10, height // 10
    return {
        "half": lambda: jpeg(image.resize((width // 2, height // 2), Image.Resampling.LANCZOS)),
        "jpeg40": lambda: jpeg(image, 40),
        "mirror": lambda: jpeg(ImageOps.mirror(image)),
        "crop-left": lambda: jpeg(image.crop((dx, 0, width, height))),
        "crop-bottom": lambda: jpeg(image.crop((0, 0, width, height - dy))),
        "crop-centre": lambda: jpeg(image.crop((dx // 2, dy // 2, width - dx // 2, height - dy // 2))),
    }[kind]()


def fingerprints(*sources) -> Fingerprints:
    return Fingerprints.of([fingerprint_of_file(io.BytesIO(s) if isinstance(s, bytes) else s) for s in sources])


@pytest.mark.parametrize("kind", ["half", "jpeg40", "mirror", "crop-left", "crop-bottom", "crop-centre"])
@pytest.mark.parametrize("original", [CAT, OTHER_CAT, DOG], ids=lambda path: path.name)
def test_a_resized_re_encoded_mirrored_or_cropped_copy_is_a_near_duplicate(original, kind):
    assert [(i, j) for i, j, _ in near_pairs(fingerprints(original), fingerprints(copy_of(original, kind)))] == [(0, 0)]


def test_different_photos_are_not_near_duplicates():
    found = fingerprints(CAT, OTHER_CAT, DOG, *(shared_photo("dog", n) for n in range(4002, 4006)))
    assert near_pairs(found) == []


def test_a_photo_rotated_by_its_exif_orientation_is_a_near_duplicate_of_the_upright_one():
    with Image.open(CAT) as opened:
        upright = opened.convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter: shown upright once turned back
    out = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(out, format="JPEG", quality=90, exif=exif)
    assert len(near_pairs(fingerprints(CAT), fingerprints(out.getvalue()))) == 1


def test_pictures_of_one_colour_are_nobodys_near_duplicates():
    # Their hashes are all alike: every plain picture would otherwise match every other.
    assert near_pairs(fingerprints(photo(1), photo(2), photo(2))) == []


def test_ingestion_fingerprints_every_image(make_dataset):
    dataset = make_dataset(archive=zip_bytes({"cat/a.jpg": CAT.read_bytes(), "dog/b.jpg": DOG.read_bytes()}))
    assert dataset.status == "ready", dataset.report
    for image in dataset.images.all():
        expected = fingerprint_of_file(shared_photo(image.label, 4001))
        assert (image.phash, image.phash_mirror, image.dhash, image.dhash_mirror) == (
            expected.phash,
            expected.phash_mirror,
            expected.dhash,
            expected.dhash_mirror,
        )
        assert len(image.phash) == 16 and len(image.dhash) == 32


@pytest.fixture
def pets(make_dataset):
    """A cat, two copies of it (one re-encoded under "dog"), a crop of it, and two other photos."""
    return make_dataset(
        archive=zip_bytes(
            {
                "cat/cat.jpg": CAT.read_bytes(),
                "cat/cat-half.jpg": copy_of(CAT, "half"),
                "cat/cat-crop.jpg": copy_of(CAT, "crop-left"),
                "dog/cat-again.jpg": copy_of(CAT, "jpeg40"),
                "cat/other.jpg": OTHER_CAT.read_bytes(),
                "dog/dog.jpg": DOG.read_bytes(),
            }
        )
    )


def test_the_report_groups_the_near_duplicates_of_a_dataset(pets):
    report = near_duplicate_report(pets)
    assert report["checked"] == 6 and report["unfingerprinted"] == 0
    assert (report["group_count"], report["grouped_count"], report["pair_count"]) == (1, 4, 6)
    assert report["other_class_pairs"] == 3  # the copy filed under "dog" with each of the three cats
    listed = {frozenset(photo["image"].origin for photo in pair["photos"]) for pair in report["pairs"]}
    assert frozenset({"cat/cat.jpg", "dog/cat-again.jpg"}) in listed
    assert not any("other.jpg" in name or "dog.jpg" in name for pair in listed for name in pair)
    assert "split" not in report  # no frozen split


def test_the_report_shows_near_duplicates_across_the_frozen_split(pets):
    pets.images.filter(origin__in=["cat/cat.jpg", "dog/dog.jpg"]).update(split="test")
    pets.images.exclude(split="test").update(split="train")
    split = near_duplicate_report(pets)["split"]
    assert split["pair_count"] == 3  # the crop, the half and the re-encoded copy are in training
    assert {pair["photos"][1]["image"].origin for pair in split["pairs"]} == {"cat/cat.jpg"}
    assert {pair["photos"][0]["image"].split for pair in split["pairs"]} == {"train"}


def test_the_report_against_a_test_dataset_counts_the_training_photos_a_training_would_leave_out(pets, make_dataset):
    test = make_dataset("test", archive=zip_bytes({"cat/x.jpg": copy_of(CAT, "mirror"), "dog/y.jpg": photo(3)}))
    against = near_duplicate_report(pets, test)["test"]
    assert against["training_photos"] == 4 and against["pair_count"] == 4
    assert {pair["photos"][1]["image"].origin for pair in against["pairs"]} == {"cat/x.jpg"}


def test_images_stored_before_fingerprints_are_reported_and_filled_by_the_command(pets):
    pets.images.update(phash="", phash_mirror="", dhash="", dhash_mirror="")
    report = near_duplicate_report(pets)
    assert report["unfingerprinted"] == 6 and report["pair_count"] == 0

    call_command("fill_fingerprints", str(pets.pk), stdout=io.StringIO())

    assert not DatasetImage.objects.filter(dataset=pets, dhash="").exists()
    assert near_duplicate_report(pets)["pair_count"] == 6


def test_the_fill_command_refuses_an_unknown_dataset(pets):
    with pytest.raises(Exception, match="No dataset has the id 999"):
        call_command("fill_fingerprints", "999", stdout=io.StringIO())


# The admin page


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_dataset_page_shows_its_near_duplicates_with_their_photos(admin_client, pets):
    page = admin_client.get(reverse("admin:trainer_dataset_change", args=[pets.pk]))
    assert page.status_code == 200
    html = " ".join(page.content.decode().split())
    assert 'id="near-duplicates" data-pairs="6"' in html
    assert "in 1 group (4 of the 6 photos), 3 of them filed under different classes" in html
    image = pets.images.get(origin="dog/cat-again.jpg")
    url = reverse("admin:trainer_dataset_photo", args=[pets.pk, image.pk])
    assert url in html
    served = admin_client.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"


def test_the_dataset_page_compares_with_a_chosen_test_dataset(admin_client, pets, make_dataset):
    test = make_dataset("test", archive=zip_bytes({"cat/x.jpg": copy_of(CAT, "half"), "dog/y.jpg": photo(3)}))
    page = admin_client.get(reverse("admin:trainer_dataset_change", args=[pets.pk]))
    assert f'href="?near_duplicates_of={test.pk}#near-duplicates"' in page.content.decode()

    page = admin_client.get(reverse("admin:trainer_dataset_change", args=[pets.pk]), {"near_duplicates_of": test.pk})
    html = " ".join(page.content.decode().split())
    assert 'data-test-pairs="4"' in html
    assert "4 photos of this dataset are near-duplicates of photos of test" in html


def test_a_test_dataset_of_other_classes_is_refused_with_a_message(admin_client, pets, make_dataset):
    other = make_dataset("birds", archive=zip_bytes(class_folders({"owl": 2, "tit": 2})))
    page = admin_client.get(reverse("admin:trainer_dataset_change", args=[pets.pk]), {"near_duplicates_of": other.pk})
    assert page.status_code == 200
    assert (
        "no ready dataset of the same classes (cat, dog) with that id: pick one of the links above"
        in page.content.decode()
    )
    assert "data-test-pairs" not in page.content.decode()


def test_a_photo_of_another_dataset_is_not_served_under_this_one(admin_client, pets, make_dataset):
    other = make_dataset("other", archive=zip_bytes(class_folders({"cat": 2, "dog": 2})))
    image = other.images.first()
    assert admin_client.get(reverse("admin:trainer_dataset_photo", args=[pets.pk, image.pk])).status_code == 404


def test_staff_without_the_view_permission_cannot_see_a_photo(client, pets, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    image = pets.images.first()
    assert client.get(reverse("admin:trainer_dataset_photo", args=[pets.pk, image.pk])).status_code == 403
