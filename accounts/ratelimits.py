"""Rate limits of the HTML pages (log-in, sign-up, upload form) and of the API's token log-in.

Counters live in the default cache (`CACHE_URL`), shared by every web process; the rates are settings
(`CATDOG_RATELIMIT_*`) read at each request. The REST API's own limits are DRF throttles (classifier/api.py).
"""

import functools
from datetime import timedelta

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

LOG_IN_GROUP = "log-in"


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or the one the trusted proxies (`CATDOG_NUM_PROXIES`) saw.

    The same rule as DRF's throttles, so that a page and the API count one client alike; with no trusted
    proxy an X-Forwarded-For header is ignored, since any client can write one.
    """
    return BaseThrottle().get_ident(request) or request.META["REMOTE_ADDR"]


def too_many_requests(request, retry_after: int):
    seconds = max(1, int(retry_after))
    context = {"retry_at": timezone.now() + timedelta(seconds=seconds), "retry_after": seconds}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _count(request, group: str, key, rate: str, *, increment: bool = True) -> int | None:
    """Counts this request (unless `increment` is false); the seconds to wait when over the rate, else None."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=increment)
    if usage is None:
        return None
    over = usage["count"] > usage["limit"] if increment else usage["count"] >= usage["limit"]
    return max(1, usage["time_left"]) if over else None


def rate_limit(group: str, key: str, rate_setting: str, method: str = "POST"):
    """Answers 429 (a page and Retry-After) to a `method` request over the rate named by `rate_setting`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == method:
                wait = _count(request, group, key, getattr(settings, rate_setting))
                if wait:
                    return too_many_requests(request, wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _name(username: str) -> str:
    return username.strip().lower()


def _failures(request, username: str, *, increment: bool = False) -> tuple[dict | None, dict | None]:
    """The failed log-ins for `username`: (from this address, from every address). The first is keyed
    by the address as the per-address rates are (an IPv6 client's whole /64, RATELIMIT_IPV6_MASK)."""
    name = _name(username)
    here = get_usage(
        request,
        group=f"{LOG_IN_GROUP}-failures:{name}",
        key="ip",
        rate=settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME_AND_IP,
        increment=increment,
    )
    everywhere = get_usage(
        request,
        group=f"{LOG_IN_GROUP}-failures",
        key=lambda group, request: name,
        rate=settings.CATDOG_RATELIMIT_LOGIN_FAILURES_PER_USERNAME,
        increment=increment,
    )
    return here, everywhere


def check_log_in(request, username: str) -> int | None:
    """Counts a log-in attempt; the seconds to wait if it must be refused, else None.

    Refused: an address over its rate of attempts, and an address that failed too often for this
    username, even with the right password now. Never locked: the username itself, so the real user,
    from another address, still logs in while someone guesses. Guessing spread over many addresses
    slows down instead: once the username has had its failures from every address, each address gets
    one failure for it per window. Successful log-ins never count.
    """
    wait = _count(request, LOG_IN_GROUP + "-ip", "ip", settings.CATDOG_RATELIMIT_LOGIN_PER_IP)
    if wait:
        return wait
    here, everywhere = _failures(request, username)
    if here is None:
        return None
    allowed = here["limit"]
    if everywhere is not None and everywhere["count"] >= everywhere["limit"]:
        allowed = 1
    return max(1, here["time_left"]) if here["count"] >= allowed else None


def count_failed_log_in(request, username: str) -> None:
    _failures(request, username, increment=True)


def limit_log_ins(view):
    """For a log-in view (ours, the admin's) that redirects on success and shows the form again on failure."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username = request.POST.get("username", "")
        wait = check_log_in(request, username)
        if wait:
            return too_many_requests(request, wait)
        response = view(request, *args, **kwargs)
        if response.status_code != 302:
            count_failed_log_in(request, username)
        return response

    return wrapped
