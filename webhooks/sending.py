"""One POST of a delivery, under the dataset fetcher's rules against SSRF (trainer/datasets/fetching.py): every
address the host resolves to must be globally routable (unless CATDOG_WEBHOOK_ALLOW_PRIVATE), checked now, at
sending time, and the connection goes to the address checked; a redirect is an answer, never followed."""

from django.conf import settings

from trainer.datasets import fetching

ALLOW_PRIVATE = "CATDOG_WEBHOOK_ALLOW_PRIVATE"


class SendError(Exception):
    """The POST did not get an answer; the message says why."""


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url`; the answer's status code. SendError when there is none."""
    timeout = settings.CATDOG_WEBHOOK_TIMEOUT
    headers = {**headers, "Content-Type": "application/json", "User-Agent": "catdog-webhooks"}
    try:
        response, adapter = fetching.pinned_send(
            "POST", url, headers=headers, data=body, timeout=timeout, said=timeout, allow_setting=ALLOW_PRIVATE
        )
    except fetching.FetchError as error:
        raise SendError(str(error)) from None
    response.close()  # the answer's body is not read: its status says it all
    adapter.close()
    return response.status_code
