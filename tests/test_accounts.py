import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_it_signs_up_and_logs_the_new_user_in(client):
    r = client.post(
        reverse("signup"),
        {"username": "newbie", "password1": "a long pass phrase 42", "password2": "a long pass phrase 42"},
    )
    assert r.status_code == 302
    assert r.url == reverse("classifier:upload")
    assert get_user_model().objects.filter(username="newbie").exists()
    assert client.get(reverse("classifier:upload")).status_code == 200


@pytest.mark.parametrize(
    ("username", "password1", "password2"),
    [
        ("newbie", "a long pass phrase 42", "another phrase 42"),  # mismatch
        ("newbie", "123", "123"),  # too short and numeric
        ("alice", "a long pass phrase 42", "a long pass phrase 42"),  # taken
        ("", "a long pass phrase 42", "a long pass phrase 42"),  # no name
    ],
)
def test_it_refuses_a_bad_sign_up(client, user, username, password1, password2):
    r = client.post(reverse("signup"), {"username": username, "password1": password1, "password2": password2})
    assert r.status_code == 400
    assert r.context["form"].errors
    assert get_user_model().objects.count() == 1  # only alice, from the fixture


def test_it_logs_in_and_out(client, user):
    r = client.post(reverse("login"), {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 302
    assert client.get(reverse("classifier:history")).status_code == 200
    r = client.post(reverse("logout"))
    assert r.status_code == 302
    assert client.get(reverse("classifier:history")).status_code == 302


def test_it_refuses_a_wrong_password(client, user):
    r = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert r.status_code == 200
    assert r.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_it_changes_the_password(client, user):
    client.force_login(user)
    r = client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": "brand new phrase 77",
            "new_password2": "brand new phrase 77",
        },
    )
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand new phrase 77")


def test_it_refuses_a_password_change_with_a_wrong_old_password(client, user):
    client.force_login(user)
    r = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": "brand new phrase 77", "new_password2": "brand new phrase 77"},
    )
    assert r.status_code == 200
    assert "old_password" in r.context["form"].errors
    user.refresh_from_db()
    assert user.check_password("correct horse battery")


@pytest.mark.parametrize("name", ["classifier:upload", "classifier:history", "password_change"])
def test_every_page_needs_a_login(client, name):
    r = client.get(reverse(name))
    assert r.status_code == 302
    assert r.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["login", "signup"])
def test_sign_up_and_log_in_are_open(client, name):
    assert client.get(reverse(name)).status_code == 200


def test_a_short_mismatched_password_gets_every_problem_and_the_cursor_in_the_first_field_in_error(client):
    r = client.post(reverse("signup"), {"username": "newbie", "password1": "123", "password2": "124"})
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert "The two password fields didn’t match." in errors["password2"]
    assert any("too short" in error for error in errors["password1"])
    assert any("entirely numeric" in error for error in errors["password1"])
    html = r.content.decode()
    assert re.search(r'<input[^>]*name="password1"[^>]*autofocus', html)
    assert not re.search(r'<input[^>]*name="username"[^>]*autofocus', html)


def test_a_changed_password_gets_every_problem_too(client, user):
    client.force_login(user)
    form = {"old_password": "correct horse battery", "new_password1": "123", "new_password2": "124"}
    r = client.post(reverse("password_change"), form)
    errors = r.context["form"].errors
    assert "new_password2" in errors and any("too short" in error for error in errors["new_password1"])
    assert re.search(r'<input[^>]*name="new_password1"[^>]*autofocus', r.content.decode())


def test_the_sign_up_form_starts_in_the_username(client):
    assert re.search(r'<input[^>]*name="username"[^>]*autofocus', client.get(reverse("signup")).content.decode())


def test_logging_out_says_so(client, user):
    client.force_login(user)
    r = client.post(reverse("logout"), follow=True)
    assert r.redirect_chain[-1][0] == reverse("login")
    assert "You are logged out." in r.content.decode()
