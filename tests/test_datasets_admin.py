"""The dataset admin: adding from each source, the report page, sample thumbnails; staff only."""

import pytest
from django.contrib.auth.models import Permission
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from trainer.datasets import fetching as datasets
from trainer.models import Dataset

from .conftest import upload
from .dataset_helpers import class_folders, media_files, noise_photo, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db

ADD_URL = "/admin/trainer/dataset/add/"


@pytest.fixture
def staff_client(client, django_user_model):
    """Staff with only the permissions to see datasets, not to add them."""
    staff = django_user_model.objects.create_user(username="sam", password="correct horse battery", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    client.force_login(staff)
    return client


@pytest.fixture
def ready_dataset(make_dataset):
    entries = {**class_folders({"cat": 4, "dog": 2}), "cat/copy.png": photo(0), "dog/notes.txt": b"hello"}
    return make_dataset(archive=zip_bytes(entries))


@pytest.fixture
def roots(settings, tmp_path):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    return tmp_path


def _change_url(dataset) -> str:
    return reverse("admin:trainer_dataset_change", args=[dataset.pk])


def _thumbnail_url(image) -> str:
    return reverse("admin:trainer_dataset_thumbnail", args=[image.dataset_id, image.pk])


# --- Who may see what -------------------------------------------------------------------------------------------


def test_the_add_page_renders_for_staff_with_the_three_sources(admin_client):
    r = admin_client.get(ADD_URL)
    assert r.status_code == 200
    html = r.content.decode()
    assert 'enctype="multipart/form-data"' in html
    for name in ("name", "archive", "folder", "url_lines", "url_csv"):
        assert f'name="{name}"' in html


def test_the_pages_are_refused_to_users_who_are_not_staff(client, user, ready_dataset):
    image = ready_dataset.images.exclude(thumbnail="").first()
    client.force_login(user)
    for url in (ADD_URL, _change_url(ready_dataset), _thumbnail_url(image), "/admin/trainer/dataset/"):
        r = client.get(url)
        assert r.status_code == 302 and r.url.startswith("/admin/login/"), url
    r = client.post(reverse("admin:trainer_dataset_recheck", args=[ready_dataset.pk]))
    assert r.status_code == 302 and r.url.startswith("/admin/login/")


def test_anonymous_visitors_are_sent_to_log_in(client, ready_dataset):
    image = ready_dataset.images.exclude(thumbnail="").first()
    for url in (ADD_URL, _change_url(ready_dataset), _thumbnail_url(image)):
        r = client.get(url)
        assert r.status_code == 302 and "/login/" in r.url, url


def test_staff_without_the_add_permission_cannot_add_or_check_again(staff_client, ready_dataset):
    assert staff_client.get(ADD_URL).status_code == 403
    r = staff_client.post(reverse("admin:trainer_dataset_recheck", args=[ready_dataset.pk]))
    assert r.status_code == 403
    ready_dataset.refresh_from_db()
    assert ready_dataset.status == Dataset.Status.READY


def test_staff_who_may_view_datasets_see_the_page_and_thumbnails(staff_client, ready_dataset):
    assert staff_client.get(_change_url(ready_dataset)).status_code == 200
    image = ready_dataset.images.exclude(thumbnail="").first()
    r = staff_client.get(_thumbnail_url(image))
    assert r.status_code == 200
    assert r["Content-Type"] == "image/jpeg"
    assert r["Cache-Control"] == "private, max-age=3600"
    assert b"".join(r.streaming_content)[:3] == b"\xff\xd8\xff"


def test_staff_without_the_view_permission_get_no_thumbnail(client, django_user_model, ready_dataset):
    staff = django_user_model.objects.create_user(username="sue", password="correct horse battery", is_staff=True)
    client.force_login(staff)
    image = ready_dataset.images.exclude(thumbnail="").first()
    assert client.get(_thumbnail_url(image)).status_code == 403
    assert client.get(_change_url(ready_dataset)).status_code == 403


def test_a_thumbnail_is_only_found_under_its_own_dataset(admin_client, make_dataset, ready_dataset):
    other = make_dataset("other", archive=zip_bytes(class_folders({"cat": 1, "dog": 1}, start=50)))
    image = ready_dataset.images.exclude(thumbnail="").first()
    url = reverse("admin:trainer_dataset_thumbnail", args=[other.pk, image.pk])
    assert admin_client.get(url).status_code == 404
    without = ready_dataset.images.filter(thumbnail="")
    assert not without.exists() or admin_client.get(_thumbnail_url(without.first())).status_code == 404


# --- Adding -----------------------------------------------------------------------------------------------------


def test_adding_a_zip_stores_it_checks_it_and_shows_its_page(
    admin_client, settings, django_capture_on_commit_callbacks
):
    archive = upload("pets.zip", zip_bytes(class_folders({"cat": 2, "dog": 2})))
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(ADD_URL, {"name": "pets", "archive": archive})
    dataset = Dataset.objects.get()
    assert r.status_code == 302 and r.url == _change_url(dataset)
    assert dataset.source == Dataset.Source.ZIP
    assert dataset.created_by.username == "admin"
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    assert media_files(settings) == _stored_names(dataset)  # the archive once, under the dataset's id


def test_the_message_after_adding_keeps_the_name_as_it_was_written(admin_client, django_capture_on_commit_callbacks):
    archive = upload("pets.zip", zip_bytes(class_folders({"cat": 2, "dog": 2})))
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(ADD_URL, {"name": "small catdog 40", "archive": archive}, follow=True)
    page = r.content.decode()
    assert "The dataset small catdog 40 is being checked" in page and "Small catdog 40" not in page


def test_adding_a_zip_larger_than_what_django_keeps_in_memory(
    admin_client, settings, django_capture_on_commit_callbacks
):
    """Django keeps a larger upload in a temporary file on disk, as it does every real dataset's zip."""
    entries = {f"{label}/{n}.png": noise_photo(n) for n in range(8) for label in ["cat" if n % 2 else "dog"]}
    archive = zip_bytes(entries)
    assert 6 * 1024 * 1024 < len(archive) < 8 * 1024 * 1024 and len(archive) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(ADD_URL, {"name": "large", "archive": upload("large.zip", archive)})

    dataset = Dataset.objects.get()
    assert r.status_code == 302 and r.url == _change_url(dataset)
    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.report["counts"] == {"cat": 4, "dog": 4}
    assert dataset.archive.read() == archive
    assert media_files(settings) == _stored_names(dataset)


def _stored_names(dataset) -> set[str]:
    names = {name for pair in dataset.images.values_list("file", "thumbnail") for name in pair if name}
    return names | {dataset.archive.name}


def test_adding_a_server_folder(admin_client, roots, django_capture_on_commit_callbacks):
    folder = write_tree(roots / "pets", class_folders({"cat": 2, "dog": 2}))
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(ADD_URL, {"name": "pets", "folder": str(folder)})
    assert r.status_code == 302
    dataset = Dataset.objects.get()
    assert (dataset.source, dataset.path, dataset.status) == (Dataset.Source.FOLDER, str(folder), "ready")


def test_adding_pasted_urls_and_a_csv_file(admin_client, monkeypatch, django_capture_on_commit_callbacks):
    served = {f"https://pets.example/{n}.png": photo(n) for n in range(4)}
    monkeypatch.setattr(datasets, "fetch", served.__getitem__)
    pasted = "https://pets.example/0.png,cat\nhttps://pets.example/1.png cat"
    csv_file = upload("urls.csv", b"url,label\nhttps://pets.example/2.png,dog\nhttps://pets.example/3.png,dog\n")
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(ADD_URL, {"name": "web", "url_lines": pasted, "url_csv": csv_file})
    assert r.status_code == 302
    dataset = Dataset.objects.get()
    assert dataset.source == Dataset.Source.URLS
    assert [url for url, _ in dataset.urls] == list(served)
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "Give exactly one source: a zip archive, a folder on the server, or URLs."),
        ({"folder": "/srv/pets", "url_lines": "https://e.com/1.jpg,cat"}, "Give exactly one source"),
        ({"archive": b"just text"}, "This file is not a zip archive."),
        ({"folder": "/etc"}, "/etc is outside the folders datasets may come from"),
        ({"url_lines": "https://e.com/1.jpg"}, "line 1: expected a URL and a class, found 1 values"),
        ({"url_lines": "javascript:alert(1),cat"}, "is not an http or https URL"),
        ({"url_csv": b"\xff\xfe\x00bad"}, "The CSV file is not UTF-8 text."),
        ({"url_csv": b"url,label\nhttps://e.com/1.jpg,.hidden\n"}, "line 2: the class name &#x27;.hidden&#x27; is not"),
    ],
)
def test_an_unusable_add_form_is_shown_again_with_the_reason(admin_client, roots, settings, fields, error):
    data = {"name": "pets", **fields}
    for name in ("archive", "url_csv"):
        if name in data:
            data[name] = upload(f"{name}.bin", data[name])
    r = admin_client.post(ADD_URL, data)
    assert r.status_code == 200
    assert error in r.content.decode()
    assert not Dataset.objects.exists()
    assert media_files(settings) == set()


def test_an_archive_over_the_limit_is_refused_by_the_form(admin_client, settings):
    archive = zip_bytes(class_folders({"cat": 2, "dog": 2}))
    settings.CATDOG_DATASET_MAX_ZIP_BYTES = 100
    r = admin_client.post(ADD_URL, {"name": "pets", "archive": upload("pets.zip", archive)})
    assert r.status_code == 200
    assert f"The archive is {filesizeformat(len(archive))}; the limit is 100\xa0bytes." in r.content.decode()
    assert not Dataset.objects.exists()


def test_too_many_urls_in_the_two_fields_together_are_refused(admin_client, settings):
    settings.CATDOG_DATASET_MAX_URLS = 2
    data = {"name": "web", "url_lines": "https://e.com/1.jpg,cat\nhttps://e.com/2.jpg,cat"}
    data["url_csv"] = upload("urls.csv", b"https://e.com/3.jpg,dog\n")
    r = admin_client.post(ADD_URL, data)
    assert r.status_code == 200
    assert "3 URLs were given; the limit is 2." in r.content.decode()
    assert not Dataset.objects.exists()


def test_a_name_already_taken_is_refused(admin_client, ready_dataset):
    r = admin_client.post(ADD_URL, {"name": ready_dataset.name, "archive": upload("p.zip", zip_bytes({}))})
    assert r.status_code == 200
    assert "Dataset with this Name already exists." in r.content.decode()
    assert Dataset.objects.count() == 1


# --- The dataset's page -----------------------------------------------------------------------------------------


def test_the_page_shows_counts_samples_skipped_files_duplicates_and_imbalance(admin_client, ready_dataset):
    r = admin_client.get(_change_url(ready_dataset))
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-status="ready"' in html
    assert "hx-get" not in html
    assert "<td>cat</td>\n          <td>4</td>\n          <td>66.7%</td>" in html
    for image in ready_dataset.images.exclude(thumbnail=""):
        assert f'src="{_thumbnail_url(image)}"' in html
    assert "Skipped files (1)" in html and "dog/notes.txt" in html
    assert "Exact duplicates (1)" in html and "cat/copy.png" in html
    assert "The classes are unbalanced: cat has 4 images and dog only 2" in html
    assert ready_dataset.content_sha256 in html
    assert "Check again" in html
    assert 'name="_save"' not in html  # the page only shows; nothing is edited by hand (but a root's promotion)


def test_the_page_refreshes_itself_while_the_check_runs(admin_client, ready_dataset):
    Dataset.objects.filter(pk=ready_dataset.pk).update(status=Dataset.Status.PROCESSING)
    html = admin_client.get(_change_url(ready_dataset)).content.decode()
    updates = reverse("admin:trainer_dataset_updates", args=[ready_dataset.pk])
    assert f'hx-get="{updates}" hx-trigger="every 2s"' in html
    assert "a worker is checking this dataset" in html
    assert "Check again" not in html


def test_the_check_s_poll_answers_with_the_panel_the_page_shows_then_stops(admin_client, ready_dataset):
    Dataset.objects.filter(pk=ready_dataset.pk).update(status=Dataset.Status.PROCESSING)
    updates = reverse("admin:trainer_dataset_updates", args=[ready_dataset.pk])
    html = admin_client.get(_change_url(ready_dataset)).content.decode()
    r = admin_client.get(updates, headers={"HX-Request": "true"})
    fragment = r.content.decode().strip()
    assert r.status_code == 200 and 'id="dataset-check"' in fragment and fragment in html
    assert html.count('data-field="status">Processing<') == 1 and "field-status" not in html  # said once
    Dataset.objects.filter(pk=ready_dataset.pk).update(status=Dataset.Status.READY)
    r = admin_client.get(updates, headers={"HX-Request": "true"})
    assert r.status_code == 286 and r["HX-Refresh"] == "true"  # the page loads once more, with the report


def test_the_page_of_a_failed_dataset_says_why(admin_client, make_dataset):
    dataset = make_dataset(archive=b"not a zip")
    html = admin_client.get(_change_url(dataset)).content.decode()
    assert 'class="error">The uploaded file is not a zip archive, or it is damaged.</p>' in html


def test_the_page_of_a_url_dataset_lists_each_url(admin_client, make_dataset, monkeypatch):
    def fake_fetch(url):
        if url.endswith("missing.png"):
            raise datasets.FetchError("HTTP 404 Not Found")
        return photo(int(url.rsplit("/", 1)[1].split(".")[0]))

    monkeypatch.setattr(datasets, "fetch", fake_fetch)
    urls = [("https://e.com/1.png", "cat"), ("https://e.com/2.png", "dog"), ("https://e.com/missing.png", "dog")]
    dataset = make_dataset(urls=urls)
    html = admin_client.get(_change_url(dataset)).content.decode()
    assert "URLs (3)" in html
    assert '<tr data-outcome="skipped"><td>https://e.com/missing.png</td><td>dog</td><td>skipped</td>' in html
    assert "<td>HTTP 404 Not Found</td>" in html


def test_the_list_renders_and_checks_again_from_the_action(
    admin_client, ready_dataset, django_capture_on_commit_callbacks
):
    r = admin_client.get("/admin/trainer/dataset/")
    assert r.status_code == 200 and "pets" in r.content.decode()
    first_check = ready_dataset.started_at
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(
            "/admin/trainer/dataset/", {"action": "recheck", "_selected_action": [ready_dataset.pk]}, follow=True
        )
    assert "Sent to a worker to be checked again." in r.content.decode()
    ready_dataset.refresh_from_db()
    assert ready_dataset.status == Dataset.Status.READY
    assert ready_dataset.started_at > first_check  # checked once more


def test_check_again_is_a_post(admin_client, ready_dataset):
    url = reverse("admin:trainer_dataset_recheck", args=[ready_dataset.pk])
    assert admin_client.get(url).status_code == 405


def test_deleting_from_the_admin_deletes_the_files(
    admin_client, ready_dataset, settings, django_capture_on_commit_callbacks
):
    assert media_files(settings)
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(reverse("admin:trainer_dataset_delete", args=[ready_dataset.pk]), {"post": "yes"})
    assert r.status_code == 302
    assert not Dataset.objects.exists()
    assert media_files(settings) == set()
