"""A dataset version's admin page: its lineage, what it added and left out, its frozen test split, read-only; the
versions on its root's page and in the list; a parent that cannot be deleted; the lineage's automatic promotion."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import formats, timezone

from trainer.actions import NewImage, do_derive_dataset_version
from trainer.datasets import frozen_test_sha256
from trainer.models import Dataset

from .dataset_helpers import class_folders, photo, write_tree, zip_bytes

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def root(make_dataset):
    return make_dataset("pets", archive=zip_bytes(class_folders({"cat": 11, "dog": 7})))


def derive(parent, user, numbers, left_out=()):
    additions = [
        NewImage(label, default_storage.save(f"uploads/{n}.png", ContentFile(photo(n))), f"prediction {n}")
        for n, label in numbers
    ]
    additions += [NewImage("horse", default_storage.save("uploads/h.png", ContentFile(photo(3000))), origin)
                  for origin in left_out]  # fmt: skip
    return do_derive_dataset_version(parent, additions, by=user)


@pytest.fixture
def lineage(root, user):
    second = derive(root, user, [(101, "cat"), (102, "cat"), (103, "dog")], left_out=["prediction 9"])
    third = derive(second, user, [(104, "dog")])
    return root, second, third


def _change_url(dataset) -> str:
    return reverse("admin:trainer_dataset_change", args=[dataset.pk])


def _page(client, dataset) -> str:
    r = client.get(_change_url(dataset))
    assert r.status_code == 200
    return r.content.decode()


def test_a_versions_page_shows_its_lineage_what_it_added_and_its_frozen_test_split(admin_client, lineage, user):
    root, second, third = lineage
    html = _page(admin_client, second)

    chain = html[html.index('data-section="lineage"') :]
    chain = chain[: chain.index("</p>")]
    assert (
        f'<a href="{_change_url(root)}">pets</a> <span aria-hidden="true">→</span> <strong aria-current="page">pets v2'
        in chain
    )
    assert f'<a href="{_change_url(third)}">pets v3</a>' in html  # its child
    assert f"Made by alice on {formats.localize(timezone.localtime(second.created_at))}:" in html
    assert "3 photos accepted in the review queue, added for training." in html
    assert "<tr><td>cat</td><td>+2</td><td>13</td></tr>" in html
    assert "<tr><td>dog</td><td>+1</td><td>8</td></tr>" in html
    assert "Where the 3 added photos came from" in html and "<li>prediction 102</li>" in html
    assert "<tr><td>prediction 9</td><td>horse is not a class of pets</td></tr>" in html
    assert "Frozen test split (3 photos)" in html
    assert "<tr><td>cat</td><td>2</td></tr>" in html and "<tr><td>dog</td><td>1</td></tr>" in html
    assert frozen_test_sha256(second) in html and second.content_sha256 in html


def test_a_version_is_read_only_and_says_why(admin_client, lineage):
    _, second, third = lineage
    html = _page(admin_client, third)

    assert "This is a frozen version of pets: its images never change" in html
    assert "Check again" not in html and 'name="_save"' not in html
    assert "field-path" not in html and "field-archive_name" not in html  # no source: nothing to read again
    assert 'name="auto_promote"' not in html  # set on the root, for the whole lineage
    assert f'off: read on the lineage\'s root, <a href="{_change_url(second.parent)}">pets</a>' in html
    chain = html[html.index('data-section="lineage"') :]
    assert chain.index(">pets</a>") < chain.index(">pets v2</a>") < chain.index("pets v3</strong>")


def test_a_version_cannot_be_checked_again_from_the_admin(admin_client, lineage):
    _, second, _ = lineage
    r = admin_client.post(reverse("admin:trainer_dataset_recheck", args=[second.pk]), follow=True)
    assert "The dataset pets v2 is a frozen version: its images never change" in r.content.decode()
    r = admin_client.post(
        "/admin/trainer/dataset/", {"action": "recheck", "_selected_action": [second.pk]}, follow=True
    )
    assert "Not checked again: pets v2 is a frozen dataset version" in r.content.decode()
    second.refresh_from_db()
    assert second.status == Dataset.Status.READY


def test_the_roots_page_lists_every_version_of_its_lineage(admin_client, lineage):
    root, second, third = lineage
    html = _page(admin_client, root)

    assert "Versions made from this dataset (1)" in html and "Every version of this lineage (2)" in html
    assert f'<a href="{_change_url(third)}">pets v3</a></td>\n          <td><a href="{_change_url(second)}">' in html
    assert "Frozen test split" not in html  # the root itself has none: its versions do
    assert "This is a frozen version" not in html and "Check again" in html


def test_the_list_shows_each_datasets_parent_and_lineage(admin_client, lineage):
    root, second, _ = lineage
    html = admin_client.get("/admin/trainer/dataset/").content.decode()

    assert "root of 1 version" in html
    assert f'version 2 of <a href="{_change_url(root)}">pets</a>' in html
    assert f'version 3 of <a href="{_change_url(root)}">pets</a>' in html
    assert f'<td class="field-parent_link"><a href="{_change_url(second)}">pets v2</a></td>' in html


# --- Deleting --------------------------------------------------------------------------------------------------


def test_deleting_a_parent_is_refused_naming_its_versions(admin_client, lineage):
    root, second, _ = lineage
    url = reverse("admin:trainer_dataset_delete", args=[root.pk])

    r = admin_client.get(url)
    assert r.status_code == 200
    html = r.content.decode()
    assert "would require deleting the following protected related objects" in html and "pets v2" in html
    assert "The dataset pets cannot be deleted while versions made from it exist (pets v2): their photos" in html
    r = admin_client.post(url, {"post": "yes"})
    assert r.status_code == 200 and Dataset.objects.filter(pk=root.pk).exists()

    r = admin_client.post(
        "/admin/trainer/dataset/", {"action": "delete_selected", "_selected_action": [root.pk], "post": "yes"}
    )
    assert r.status_code == 200 and "pets v2" in r.content.decode()
    assert Dataset.objects.count() == 3


def test_the_newest_version_can_be_deleted(admin_client, lineage):
    _, _, third = lineage
    r = admin_client.post(reverse("admin:trainer_dataset_delete", args=[third.pk]), {"post": "yes"})
    assert r.status_code == 302 and not Dataset.objects.filter(pk=third.pk).exists()


# --- Automatic promotion, set on the root ----------------------------------------------------------------------


def test_automatic_promotion_is_a_checkbox_on_the_add_form_off_by_default(admin_client):
    html = admin_client.get("/admin/trainer/dataset/add/").content.decode()
    assert 'name="auto_promote"' in html and 'name="auto_promote" checked' not in html
    assert "significantly better than the active version on the lineage's frozen test split" in html


def test_the_root_turns_automatic_promotion_on_and_off(admin_client, lineage):
    root, second, _ = lineage
    url = reverse("admin:trainer_dataset_auto_promote", args=[root.pk])
    assert 'name="auto_promote"' in _page(admin_client, root)

    r = admin_client.post(url, {"auto_promote": "on"}, follow=True)
    assert "Automatic promotion is on for the lineage of pets." in r.content.decode()
    root.refresh_from_db()
    assert root.auto_promote
    assert "on: read on the lineage's root" in _page(admin_client, second)

    admin_client.post(url, {})
    root.refresh_from_db()
    assert not root.auto_promote


def test_a_version_refuses_its_own_automatic_promotion(admin_client, lineage):
    root, second, _ = lineage
    r = admin_client.post(reverse("admin:trainer_dataset_auto_promote", args=[second.pk]), {"auto_promote": "on"})
    assert r.status_code == 302
    messages = admin_client.get(r.url).content.decode()
    assert "The dataset pets v2 is a version of pets: automatic promotion is set for the whole lineage" in messages
    second.refresh_from_db()
    root.refresh_from_db()
    assert not second.auto_promote and not root.auto_promote


def test_only_who_may_activate_versions_sets_automatic_promotion(client, django_user_model, lineage):
    root, _, _ = lineage
    staff = django_user_model.objects.create_user(username="sam", password="correct horse battery", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_dataset"))
    client.force_login(staff)

    assert 'name="auto_promote"' not in _page(client, root)
    r = client.post(reverse("admin:trainer_dataset_auto_promote", args=[root.pk]), {"auto_promote": "on"})
    assert r.status_code == 403
    root.refresh_from_db()
    assert not root.auto_promote


def test_a_dataset_added_with_automatic_promotion_keeps_it(admin_client, settings, tmp_path):
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    folder = write_tree(tmp_path / "pets", class_folders({"cat": 2, "dog": 2}))
    r = admin_client.post("/admin/trainer/dataset/add/", {"name": "pets", "folder": str(folder), "auto_promote": "on"})
    assert r.status_code == 302
    assert Dataset.objects.get(name="pets").auto_promote


def test_who_may_add_datasets_but_not_activate_versions_adds_them_without_automatic_promotion(
    client, django_user_model, settings, tmp_path
):
    """Turning it on lets trainings activate themselves: on the add form too, it is for who may activate."""
    staff = django_user_model.objects.create_user(username="ada", password="correct horse battery", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_dataset", "view_dataset"]))
    client.force_login(staff)
    settings.CATDOG_DATASET_FOLDER_ROOTS = [str(tmp_path)]
    folder = write_tree(tmp_path / "pets", class_folders({"cat": 2, "dog": 2}))

    assert 'name="auto_promote"' not in client.get("/admin/trainer/dataset/add/").content.decode()
    r = client.post("/admin/trainer/dataset/add/", {"name": "pets", "folder": str(folder), "auto_promote": "on"})
    assert r.status_code == 302
    assert not Dataset.objects.get(name="pets").auto_promote
