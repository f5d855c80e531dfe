"""One POST of a delivery, under the dataset fetcher's rules against SSRF (trainer/datasets/fetching.py): every
address the host resolves to must be globally routable (unless CATDOG_WEBHOOK_ALLOW_PRIVATE), checked now, at
sending time, and the connection goes to the address checked; a redirect is an answer, never followed."""

import requests
from django.conf import settings

from trainer.datasets import fetching

ALLOW_PRIVATE = "CATDOG_WEBHOOK_ALLOW_PRIVATE"


class SendError(Exception):
    """The POST did not get an answer; the message says why."""


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url`; the answer's status code. SendError when there is none."""
    try:
        parts, addresses = fetching.allowed_addresses(url, ALLOW_PRIVATE)
    except fetching.FetchError as error:
        raise SendError(str(error)) from None
    adapter = fetching.PinnedAdapter(addresses[0], parts.hostname)
    request = requests.Request(
        "POST",
        url,
        data=body,
        headers={
            **headers,
            "Host": parts.netloc.rpartition("@")[2],
            "Content-Type": "application/json",
            "User-Agent": "catdog-webhooks",
        },
    ).prepare()
    timeout = settings.CATDOG_WEBHOOK_TIMEOUT
    try:
        # An adapter never follows redirects; no session: no cookies, no proxies from the environment.
        response = adapter.send(request, stream=True, timeout=timeout, proxies={})
    except requests.Timeout:
        raise SendError(f"no answer within {timeout:g} s") from None
    except requests.RequestException as error:
        raise SendError(f"the connection failed ({type(error).__name__})") from None
    finally:
        adapter.close()
    response.close()  # the answer's body is not read: its status says it all
    return response.status_code
