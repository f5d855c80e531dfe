"""Every page renders, for the right person, with the elements people and browser tests rely on."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from classifier.models import Prediction

from .page_helpers import _done, _page, _png, _prediction

pytestmark = pytest.mark.django_db

STATIC_DIR = Path(settings.BASE_DIR) / "static"
# The only absolute URLs allowed anywhere: XML namespace names, which browsers never fetch.
_NAMESPACE = re.compile(r'xmlns(?::\w+)?="http://www\.w3\.org/[^"]*"')
_EXTERNAL = re.compile(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}""", re.IGNORECASE)


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
