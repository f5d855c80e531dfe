"""Every page renders, for the right person, with the elements people and browser tests rely on."""

import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.defaults import server_error
from PIL import Image

from classifier.models import Prediction
from trainer.models import ModelVersion

pytestmark = pytest.mark.django_db

STATIC_DIR = Path(settings.BASE_DIR) / "static"
# The only absolute URLs allowed anywhere: XML namespace names, which browsers never fetch.
_NAMESPACE = re.compile(r'xmlns(?::\w+)?="http://www\.w3\.org/[^"]*"')
_EXTERNAL = re.compile(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}""", re.IGNORECASE)


@pytest.fixture
def alice(user):
    return user  # tests/conftest.py's user, by the name these tests read best with


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def model_version():
    return ModelVersion.objects.create(
        name="mobilenet_v2-catsdogs", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"]
    )


def _png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def _prediction(owner, *, name="kitty.png", **fields) -> Prediction:
    data = _png()
    prediction = Prediction(
        owner=owner, original_name=name, image_format="PNG", width=40, height=30, size_bytes=len(data), **fields
    )
    prediction.image.save("photo.png", ContentFile(data), save=False)
    prediction.thumbnail.save("thumbnail.jpg", ContentFile(_png((16, 12))), save=False)
    prediction.save()
    return prediction


def _done(owner, model_version, label="cat", confidence=0.9731, **fields) -> Prediction:
    other = "dog" if label == "cat" else "cat"
    return _prediction(
        owner,
        status=Prediction.Status.DONE,
        label=label,
        confidence=confidence,
        probabilities={other: round(1 - confidence, 4), label: confidence},
        model_version=model_version,
        inference_ms=42.4,
        **fields,
    )


class _Elements(HTMLParser):
    """The start tags of a page, as (tag, attributes) pairs: enough to assert on markup without a browser."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        wanted = {key.replace("_", "-"): value for key, value in attrs.items()}

        def matches(found: dict) -> bool:
            # True means "has the attribute", whatever its value.
            return all(key in found if value is True else found.get(key) == value for key, value in wanted.items())

        return [found for name, found in self.tags if name == tag and matches(found)]


def _page(response) -> tuple[str, _Elements]:
    html = response.content.decode()
    return html, _Elements(html)


def _assert_no_external_urls(text: str, where: str) -> None:
    found = _EXTERNAL.findall(_NAMESPACE.sub("", text))
    assert not found, f"{where} refers to outside addresses: {found}"


# --- Anonymous pages ---------------------------------------------------------------------------------------------


def test_it_shows_the_login_page_to_anonymous_people(client):
    r = client.get(reverse("login"))
    assert r.status_code == 200
    html, page = _page(r)
    [form] = page.find("form", method="post", action=reverse("login"))
    assert page.find("input", name="username")
    assert page.find("input", name="password", type="password")
    assert page.find("input", name="csrfmiddlewaretoken")
    assert page.find("a", href=reverse("signup"))
    assert not page.find("form", action=reverse("logout"))


def test_it_sends_anonymous_people_from_the_app_to_the_login_page(client):
    r = client.get(reverse("classifier:upload"))
    assert r.status_code == 302
    assert r.url.startswith(reverse("login"))


def test_it_shows_a_failed_login_above_the_form(client, alice):
    r = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert r.status_code == 200
    html, page = _page(r)
    assert 'class="errorlist nonfield"' in html
    assert "correct username and password" in html


def test_it_shows_signup_errors_next_to_their_fields(client, alice):
    r = client.post(reverse("signup"), {"username": "alice", "password1": "abc", "password2": "abd"})
    assert r.status_code == 400
    html, page = _page(r)
    assert page.find("input", name="username", aria_invalid="true")
    # Each error list sits in the field's own block, right after its input, with the id aria-describedby uses.
    username_block = html.split('name="username"', 1)[1].split('class="field', 1)[0]
    assert 'id="id_username_error"' in username_block
    assert "already exists" in username_block
    password2_block = html.split('name="password2"', 1)[1].split("</form>", 1)[0]
    assert "didn’t match" in password2_block


def test_the_signup_page_renders(client):
    r = client.get(reverse("signup"))
    assert r.status_code == 200
    _, page = _page(r)
    assert page.find("form", method="post", action=reverse("signup"))
    for name in ("username", "password1", "password2"):
        assert page.find("input", name=name)


# --- Layout ------------------------------------------------------------------------------------------------------


def test_the_header_has_the_nav_and_a_post_logout_form(alice_client):
    r = alice_client.get(reverse("classifier:upload"))
    html, page = _page(r)
    assert page.find("a", href=reverse("classifier:upload"), aria_current="page")
    assert page.find("a", href=reverse("classifier:history"))
    [logout] = page.find("form", action=reverse("logout"))
    assert logout["method"] == "post"
    assert "alice" in html
    assert not page.find("a", href=reverse("admin:index")), "the Admin link is for staff only"


def test_staff_see_the_admin_link(client, alice):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    _, page = _page(client.get(reverse("classifier:history")))
    assert page.find("a", href=reverse("admin:index"))


def test_messages_are_shown(alice_client, alice, model_version):
    prediction = _done(alice, model_version)
    r = alice_client.post(reverse("classifier:delete", args=[prediction.pk]), follow=True)
    html, page = _page(r)
    assert page.find("div", data_message=True)
    assert "Deleted kitty.png." in html


# --- Upload ------------------------------------------------------------------------------------------------------


def test_the_upload_page_has_a_multipart_form_for_several_photos(alice_client):
    r = alice_client.get(reverse("classifier:upload"))
    assert r.status_code == 200
    html, page = _page(r)
    [form] = page.find("form", action=reverse("classifier:upload"))
    assert form["method"] == "post"
    assert form["enctype"] == "multipart/form-data"
    [field] = page.find("input", type="file", name="images")
    assert "multiple" in field
    assert "image/jpeg" in field["accept"]
    assert page.find("div", data_dropzone=True)
    assert page.find("button", type="submit", data_upload_submit=True)
    assert page.find("script", src="/static/js/upload.js")
    # Formats and the size limit are stated.
    assert "JPEG, PNG, WebP, BMP or GIF" in html
    assert f"Up to {filesizeformat(settings.CATDOG_MAX_UPLOAD_BYTES)} each" in html


def test_the_upload_page_lists_each_bad_file_next_to_the_field(alice_client):
    good = SimpleUploadedFile("ok.png", _png(), content_type="image/png")
    bad = SimpleUploadedFile("notes.jpg", b"just some text", content_type="image/jpeg")
    r = alice_client.post(reverse("classifier:upload"), {"images": [good, bad]})
    assert r.status_code == 400
    html, page = _page(r)
    errors = html.split('id="id_images_error"', 1)[1].split("</ul>", 1)[0]
    assert "notes.jpg" in errors
    assert "ok.png" not in errors
    assert page.find("div", data_upload_errors=True, role="alert")
    assert "Nothing was uploaded" in html
    assert Prediction.objects.count() == 0


# --- Detail ------------------------------------------------------------------------------------------------------


def test_a_pending_prediction_polls_for_its_answer(alice_client, alice):
    prediction = _prediction(alice)
    r = alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 200
    html, page = _page(r)
    [result] = page.find("section", data_prediction_id=str(prediction.pk))
    assert result["data-status"] == "pending"
    assert page.find("input", name="watch", value=f"{prediction.pk}:pending")
    assert page.find("p", data_poll=True, hx_get=reverse("classifier:detail-updates"))
    assert page.find("img", src=reverse("classifier:image", args=[prediction.pk]))
    assert "Classifying" in html
    assert not page.find("form", action=reverse("classifier:retry", args=[prediction.pk]))


def test_a_done_prediction_shows_label_confidence_and_a_bar_per_class(alice_client, alice, model_version):
    prediction = _done(alice, model_version, label="dog", confidence=0.861)
    r = alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 200
    html, page = _page(r)
    assert page.find("section", data_prediction_id=str(prediction.pk), data_status="done")
    label = html.split('data-field="label"', 1)[1].split("<", 1)[0]
    assert label == ">dog"
    assert "86.1%" in html
    rows = page.find("li", data_class=True)
    assert [row["data-class"] for row in rows] == ["dog", "cat"], "bars from the most to the least likely class"
    assert "13.9%" in html
    assert 'style="width: 86.1%"' in html
    assert "mobilenet_v2-catsdogs" in html
    assert "42 ms" in html
    assert page.find("a", href=reverse("classifier:image", args=[prediction.pk]) + "?download=1")
    [delete] = page.find("form", action=reverse("classifier:delete", args=[prediction.pk]))
    assert delete["method"] == "post"
    assert "data-confirm" in delete


def test_a_failed_prediction_shows_the_reason_and_a_retry_button(alice_client, alice):
    prediction = _prediction(alice, status=Prediction.Status.FAILED, error="The model file is missing.")
    r = alice_client.get(reverse("classifier:detail", args=[prediction.pk]))
    html, page = _page(r)
    assert page.find("section", data_status="failed")
    assert "The model file is missing." in html
    [retry] = page.find("form", action=reverse("classifier:retry", args=[prediction.pk]))
    assert retry["method"] == "post"
    retry_form = html.split(reverse("classifier:retry", args=[prediction.pk]), 1)[1].split("</form>", 1)[0]
    assert "csrfmiddlewaretoken" in retry_form


def test_a_prediction_pending_for_long_offers_to_send_it_again(alice_client, alice):
    prediction = _prediction(alice)
    Prediction.objects.filter(pk=prediction.pk).update(created_at=timezone.now() - timedelta(hours=1))
    html, page = _page(alice_client.get(reverse("classifier:detail", args=[prediction.pk])))
    assert page.find("section", data_status="pending")
    assert page.find("div", data_stale=True)
    [retry] = page.find("form", action=reverse("classifier:retry", args=[prediction.pk]))
    assert retry["method"] == "post"


def test_someone_elses_prediction_is_a_404_page_in_the_app_look(client, alice, django_user_model):
    prediction = _prediction(alice)
    client.force_login(django_user_model.objects.create_user(username="mallory", password="x"))
    r = client.get(reverse("classifier:detail", args=[prediction.pk]))
    assert r.status_code == 404
    html, page = _page(r)
    assert "Page not found" in html
    assert page.find("link", rel="stylesheet")
    assert "kitty.png" not in html


# --- History -----------------------------------------------------------------------------------------------------


def test_history_lists_predictions_with_thumbnails_newest_first(alice_client, alice, model_version):
    first = _done(alice, model_version, label="cat", name="first.png")
    second = _done(alice, model_version, label="dog", confidence=0.5, name="second.png")
    pending = _prediction(alice, name="third.png")
    r = alice_client.get(reverse("classifier:history"))
    assert r.status_code == 200
    html, page = _page(r)
    rows = page.find("li", data_prediction=True)
    assert [row["data-prediction-id"] for row in rows] == [str(pending.pk), str(second.pk), str(first.pk)]
    assert [row["data-status"] for row in rows] == ["pending", "done", "done"]
    assert [watch["value"] for watch in page.find("input", name="watch")] == [f"{pending.pk}:pending"]
    [thumb] = page.find("img", src=reverse("classifier:thumbnail", args=[first.pk]))
    assert thumb["loading"] == "lazy"
    assert page.find("a", href=reverse("classifier:detail", args=[second.pk]))
    assert "97.3%" in html and "50.0%" in html
    assert page.find("p", data_poll=True, hx_get=f"{reverse('classifier:history-updates')}?label=")


def test_history_has_filter_links_and_marks_the_current_one(alice_client, alice, model_version):
    _done(alice, model_version, label="cat")
    _done(alice, model_version, label="dog")
    _, page = _page(alice_client.get(reverse("classifier:history")))
    history = reverse("classifier:history")
    assert page.find("a", href=f"{history}?label=cat")
    assert page.find("a", href=f"{history}?label=dog")
    assert page.find("a", href=history, aria_current="true")

    html, page = _page(alice_client.get(history, {"label": "dog"}))
    assert page.find("a", href=f"{history}?label=dog", aria_current="true")
    assert [row["data-status"] for row in page.find("li", data_prediction=True)] == ["done"]


def test_history_pagination_keeps_the_filter(alice_client, alice, model_version):
    from classifier.views import HISTORY_PAGE_SIZE

    for _ in range(HISTORY_PAGE_SIZE + 1):
        _done(alice, model_version, label="cat")
    html, page = _page(alice_client.get(reverse("classifier:history"), {"label": "cat"}))
    assert len(page.find("li", data_prediction=True)) == HISTORY_PAGE_SIZE
    assert page.find("a", href="?label=cat&page=2", rel="next")
    html, page = _page(alice_client.get(reverse("classifier:history"), {"label": "cat", "page": 2}))
    assert len(page.find("li", data_prediction=True)) == 1
    assert page.find("a", href="?label=cat&page=1", rel="prev")


def test_history_without_photos_invites_an_upload(alice_client):
    r = alice_client.get(reverse("classifier:history"))
    html, page = _page(r)
    assert page.find("div", data_empty=True)
    assert len(page.find("a", href=reverse("classifier:upload"))) >= 2, "the nav and the empty state"
    assert "No photos yet" in html


def test_history_shows_only_the_owners_predictions(alice_client, django_user_model, model_version):
    mallory = django_user_model.objects.create_user(username="mallory", password="x")
    _done(mallory, model_version, name="secret.png")
    html, page = _page(alice_client.get(reverse("classifier:history")))
    assert "secret.png" not in html
    assert not page.find("li", data_prediction=True)


# --- Account pages, error pages ----------------------------------------------------------------------------------


def test_the_password_change_pages_render(alice_client):
    r = alice_client.get(reverse("password_change"))
    assert r.status_code == 200
    _, page = _page(r)
    assert page.find("form", method="post", action=reverse("password_change"))
    for name in ("old_password", "new_password1", "new_password2"):
        assert page.find("input", name=name, type="password")
    r = alice_client.get(reverse("password_change_done"))
    assert r.status_code == 200
    assert "Password changed" in r.content.decode()


def test_the_logged_out_page_renders(rf):
    request = rf.get("/")
    request.user = AnonymousUser()
    html = render_to_string("registration/logged_out.html", request=request)
    assert reverse("login") in html


def test_the_500_page_needs_no_context():
    r = server_error(RequestFactory().get("/"))
    assert r.status_code == 500
    html = r.content.decode()
    assert "Something went wrong" in html
    assert "{%" not in html and "{{" not in html


# --- Offline: no outside addresses anywhere ----------------------------------------------------------------------


def test_no_page_refers_to_outside_addresses(client, alice, model_version):
    pages = {"login": client.get(reverse("login")), "signup": client.get(reverse("signup"))}
    client.force_login(alice)
    done = _done(alice, model_version)
    failed = _prediction(alice, status=Prediction.Status.FAILED, error="boom")
    pending = _prediction(alice)
    pages["upload"] = client.get(reverse("classifier:upload"))
    pages["history"] = client.get(reverse("classifier:history"))
    for prediction in (done, failed, pending):
        pages[f"detail {prediction.status}"] = client.get(reverse("classifier:detail", args=[prediction.pk]))
    pages["password change"] = client.get(reverse("password_change"))
    pages["404"] = client.get("/predictions/999999/")
    pages["500"] = server_error(RequestFactory().get("/"))
    for name, response in pages.items():
        html = response.content.decode()
        _assert_no_external_urls(html, f"the {name} page")
        # Every asset the page asks for is one of ours and exists.
        for asset in re.findall(r'(?:src|href)="' + re.escape(settings.STATIC_URL) + r'([^"?#]+)"', html):
            assert finders.find(asset), f"the {name} page asks for a missing static file {asset}"


def test_no_static_file_refers_to_outside_addresses():
    files = [path for path in STATIC_DIR.rglob("*") if path.is_file()]
    assert files
    for path in files:
        _assert_no_external_urls(path.read_text(encoding="utf-8"), str(path.relative_to(STATIC_DIR)))


def test_the_no_outside_addresses_check_catches_one():
    with pytest.raises(AssertionError):
        _assert_no_external_urls('<link href="https://fonts.example.com/x.css">', "a sample")
    with pytest.raises(AssertionError):
        _assert_no_external_urls('<script src="//cdn.example.net/lib.js"></script>', "a sample")
    _assert_no_external_urls('<svg xmlns="http://www.w3.org/2000/svg"></svg>', "an svg")
