"""Rate limits: log-in (per address, and failures per username and address), sign-up (per address), uploads (per user),
the API. Each answers 429 with Retry-After, stores nothing, resets with its window, and spares others."""

import time

import django_ratelimit.core
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from classifier.models import Prediction

from .conftest import image_bytes, upload

pytestmark = pytest.mark.django_db

GOOD = "correct horse battery"
ELSEWHERE = "198.51.100.7"


class Clock:
    """Stands in for the time both rate limiters read, so a test can let a window pass."""

    def __init__(self):
        self.now = time.time()

    def time(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    cache.clear()  # the counters of earlier tests
    clock = Clock()
    monkeypatch.setattr(django_ratelimit.core, "time", clock)
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(clock.time))
    yield clock
    cache.clear()


def _api_rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _log_in(client, username, password=GOOD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _token(username, password=GOOD, **extra):
    return APIClient().post(reverse("api:token"), {"username": username, "password": password}, **extra)


def _assert_refused_page(r, window_seconds):
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= window_seconds
    assert "Too many requests" in r.content.decode()
    assert [t.name for t in r.templates][0] == "429.html"


def _assert_refused_api(r, window_seconds):
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= window_seconds
    assert "throttled" in r.json()["detail"].lower()


# --- Log-in, per address ---


def test_log_in_attempts_from_one_address_are_limited(client, settings, user, clock):
    settings.CATDOG_RATELIMIT_LOGIN_PER_IP = "3/m"
    for n in range(3):
        assert _log_in(client, f"nobody{n}", "wrong").status_code == 200
    r = _log_in(client, "alice")  # even the right password: the address is over its rate
    _assert_refused_page(r, 60)
    assert "_auth_user_id" not in client.session
    assert _log_in(Client(), "alice", REMOTE_ADDR=ELSEWHERE).status_code == 302  # another address
    clock.advance(61)
    assert _log_in(client, "alice").status_code == 302  # the window has passed


def test_an_x_forwarded_for_header_is_ignored_without_a_trusted_proxy(client, settings, user):
    settings.CATDOG_RATELIMIT_LOGIN_PER_IP = "1/m"
    assert _log_in(client, "nobody", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 200
    assert _log_in(client, "nobody", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(client, settings, user):
    settings.CATDOG_RATELIMIT_LOGIN_PER_IP = "1/m"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert _log_in(client, "nobody", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 200
    assert _log_in(client, "nobody", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200
    assert _log_in(client, "nobody", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429


# --- Log-in, failures per username and address ---

ATTACKER = "203.0.113.66"


def _by_page(url_name):
    def attempt(username, password, address):
        r = Client().post(reverse(url_name), {"username": username, "password": password}, REMOTE_ADDR=address)
        if r.status_code == 429:
            _assert_refused_page(r, 3600)
        return {302: "in", 200: "failed", 429: "refused"}[r.status_code]

    return attempt


def _by_token(username, password, address):
    r = _token(username, password, REMOTE_ADDR=address)
    if r.status_code == 429:
        _assert_refused_api(r, 3600)
    return {200: "in", 400: "failed", 429: "refused"}[r.status_code]


LOG_IN_WAYS = {"page": _by_page("login"), "admin": _by_page("admin:login"), "token": _by_token}


@pytest.fixture(params=LOG_IN_WAYS)
def attempt(request, user):
    user.is_staff = True  # so that the admin's log-in lets her in too
    user.save()
    return LOG_IN_WAYS[request.param]


def test_failed_log_ins_lock_the_username_only_for_the_address_that_failed(attempt, settings, other_user, clock):
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "3/h"
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME = "3/h"  # reached too: it slows, never locks
    assert [attempt("alice", "guess", ATTACKER) for _ in range(3)] == ["failed"] * 3
    assert attempt("alice", GOOD, ATTACKER) == "refused"  # even the right password, from there
    assert attempt("ALICE", "guess", ATTACKER) == "refused"  # the same name in other letters
    assert attempt("alice", GOOD, ELSEWHERE) == "in"  # the real user, from her own address
    assert attempt("mallory", "guess", ATTACKER) == "failed"  # another username is not locked there
    clock.advance(3601)
    assert attempt("alice", GOOD, ATTACKER) == "in"


def test_the_page_the_admin_and_the_token_count_failures_together(settings, user):
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "3/h"
    assert _by_token("alice", "guess", ATTACKER) == "failed"
    assert _by_page("admin:login")("alice", "guess", ATTACKER) == "failed"
    assert _by_page("login")("alice", "guess", ATTACKER) == "failed"
    assert [way("alice", GOOD, ATTACKER) for way in LOG_IN_WAYS.values()] == ["refused"] * 3
    assert _by_token("alice", GOOD, ELSEWHERE) == "in"


def test_an_ipv6_client_is_counted_by_its_slash_64(settings, user):
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "3/h"
    assert [_by_token("alice", "guess", f"2001:db8:1:2::{n}") for n in range(1, 4)] == ["failed"] * 3
    assert _by_token("alice", "guess", "2001:db8:1:2:ffff::1") == "refused"  # another address of the /64
    assert _by_token("alice", GOOD, "2001:db8:1:3::1") == "in"  # the next /64 is someone else


def test_a_guesser_with_many_addresses_gets_one_guess_per_address_past_the_username_rate(attempt, settings, clock):
    """The bound: in one window, a username takes at most its per-username rate of failures plus one
    per address (an IPv6 /64) that has not failed for it yet; the real user still logs in."""
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "3/h"
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME = "6/h"
    bots = [f"192.0.2.{n}" for n in range(1, 21)]
    # Below the username's rate, each address has its 3 failures.
    assert [attempt("alice", "guess", bot) for bot in bots[:2] for _ in range(4)] == (["failed"] * 3 + ["refused"]) * 2
    # Past it, each further address gets one.
    for bot in bots[2:]:
        assert [attempt("alice", "guess", bot), attempt("alice", "guess", bot)] == ["failed", "refused"]
    assert attempt("alice", GOOD, bots[-1]) == "refused"
    assert attempt("alice", GOOD, ELSEWHERE) == "in"  # the real user, from an address that has not failed
    clock.advance(3601)
    assert [attempt("alice", "guess", bots[0]) for _ in range(4)] == ["failed"] * 3 + ["refused"]


def test_successful_log_ins_do_not_count_against_the_username(client, settings, user):
    settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP = "2/h"
    for _ in range(4):
        assert _log_in(client, "alice").status_code == 302
        client.logout()
    assert _log_in(client, "alice", "guess").status_code == 200  # failures still have their 2 tries


def test_the_admin_log_in_has_the_same_limits(client, settings, user):
    settings.CATDOG_RATELIMIT_LOGIN_PER_IP = "2/m"
    assert client.get(reverse("admin:login")).status_code == 200
    for _ in range(2):
        assert client.post(reverse("admin:login"), {"username": "alice", "password": "x"}).status_code == 200
    r = client.post(reverse("admin:login"), {"username": "alice", "password": "x"})
    _assert_refused_page(r, 60)


# --- The API's token: the same log-in limits ---


def test_token_requests_share_the_log_in_count_of_their_address(client, settings, user, clock):
    settings.CATDOG_RATELIMIT_LOGIN_PER_IP = "2/m"
    assert _log_in(client, "nobody", "wrong").status_code == 200
    assert _token("nobody", "wrong").status_code == 400
    r = _token("alice")
    _assert_refused_api(r, 60)
    assert "token" not in r.json()
    assert _token("alice", REMOTE_ADDR=ELSEWHERE).status_code == 200
    clock.advance(61)
    assert _token("alice").status_code == 200


# --- Sign-up, per address ---


def _sign_up(client, username, **extra):
    data = {"username": username, "password1": "a long pass phrase 42", "password2": "a long pass phrase 42"}
    return client.post(reverse("signup"), data, **extra)


def test_sign_ups_from_one_address_are_limited(settings, clock):
    settings.CATDOG_RATELIMIT_SIGNUP_PER_IP = "2/h"
    assert _sign_up(Client(), "one").status_code == 302
    assert _sign_up(Client(), "two").status_code == 302
    _assert_refused_page(_sign_up(Client(), "three"), 3600)
    assert not get_user_model().objects.filter(username="three").exists()
    assert Client().get(reverse("signup")).status_code == 200  # the page itself still shows
    assert _sign_up(Client(), "four", REMOTE_ADDR=ELSEWHERE).status_code == 302
    clock.advance(3601)
    assert _sign_up(Client(), "five").status_code == 302


# --- The upload page, per user ---


def _upload_page(client, count=1):
    files = [upload(f"p{n}.png", image_bytes()) for n in range(count)]
    return client.post(reverse("classifier:upload"), {"images": files})


def _stored_files(settings):
    root = settings.MEDIA_ROOT
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_upload_page_limits_each_user(client, settings, user, other_user, clock):
    settings.CATDOG_RATELIMIT_UPLOAD_FORM = "2/m"
    client.force_login(user)
    assert _upload_page(client).status_code == 302
    assert _upload_page(client, count=3).status_code == 302  # a request counts once, whatever it holds
    stored = _stored_files(settings)
    _assert_refused_page(_upload_page(client), 60)
    assert Prediction.objects.filter(owner=user).count() == 4
    assert _stored_files(settings) == stored  # the refused photo was not stored
    assert client.get(reverse("classifier:upload")).status_code == 200  # looking is not uploading

    mallory = Client()
    mallory.force_login(other_user)
    assert _upload_page(mallory).status_code == 302
    clock.advance(61)
    assert _upload_page(client).status_code == 302


# --- The API, per user: uploads, and everything else ---


@pytest.fixture
def api(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def _api_upload(api):
    return api.post(reverse("api:prediction-list"), {"image": upload("p.png", image_bytes())}, format="multipart")


def test_api_uploads_are_limited_per_user(api, settings, user, other_user, clock):
    _api_rates(settings, uploads="2/m")
    assert _api_upload(api).status_code == 202
    assert _api_upload(api).status_code == 202
    stored = _stored_files(settings)
    _assert_refused_api(_api_upload(api), 60)
    assert Prediction.objects.filter(owner=user).count() == 2
    assert _stored_files(settings) == stored
    assert api.get(reverse("api:prediction-list")).status_code == 200  # reading has its own rate

    mallory = APIClient()
    mallory.force_authenticate(other_user)
    assert _api_upload(mallory).status_code == 202
    clock.advance(61)
    assert _api_upload(api).status_code == 202


def test_api_reads_are_limited_per_user(api, settings, other_user, make_prediction, clock):
    _api_rates(settings, api="3/s")
    url = reverse("api:prediction-detail", args=[make_prediction().pk])
    for _ in range(3):
        assert api.get(url).status_code == 200
    _assert_refused_api(api.get(url), 1)
    mallory = APIClient()
    mallory.force_authenticate(other_user)
    assert mallory.get(reverse("api:prediction-list")).status_code == 200
    clock.advance(1.1)
    assert api.get(url).status_code == 200


def test_the_default_rates_let_a_busy_person_through_and_stop_a_password_guesser():
    """What the embedded defaults promise (README, Security): 20 photos a few times a minute through
    the page or the API, 20 users of one address logging in for a load test; 10 password guesses."""
    from catdog_site.settings import base

    def per_minute(rate):
        count, period = django_ratelimit.core._split_rate(rate)
        return count * 60 / period

    assert per_minute(base.CATDOG_RATELIMIT_UPLOAD_FORM) >= 5
    assert per_minute(base.CATDOG_RATELIMIT_API_UPLOADS) >= 5 * 20
    assert per_minute(base.CATDOG_RATELIMIT_API) >= 20 * 60  # 20 pending photos, each polled every second
    assert per_minute(base.CATDOG_RATELIMIT_LOGIN_PER_IP) >= 20
    assert django_ratelimit.core._split_rate(base.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP) == (10, 3600)
