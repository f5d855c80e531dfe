"""Downloading one image from a URL an admin gave, connecting to public addresses only (no SSRF).

Every address a host name resolves to is checked, on every redirect hop, and the connection goes to the
address that was checked (no DNS rebinding); the whole download has a deadline and a size limit. A client
of our own: requests-hardened was tried in its place and let through addresses the tests refuse (README).
"""

import ipaddress
import socket
import time
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from requests.adapters import HTTPAdapter


class FetchError(Exception):
    """One URL could not be downloaded; the message says why."""


# IPv6 addresses that carry traffic to an IPv4 address in their last 32 bits: NAT64's well-known prefix
# (RFC 6052) and the deprecated IPv4-compatible ::a.b.c.d (6to4 and IPv4-mapped have ipaddress properties).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Every public IPv6 host is in global unicast; this leaves out what Python 3.11 still calls global although
# no public host lives there (NAT64 local use 64:ff9b:1::/48, site-local fec0::/10, multicast ff00::/8),
# and the documentation range newer than Python 3.11's tables (RFC 9637).
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_DOCUMENTATION = ipaddress.IPv6Network("3fff::/20")


def _destination(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a connection to `ip` reaches: the IPv4 address an IPv6 one embeds, else `ip` itself."""
    if ip.version == 4:
        return ip
    if embedded := ip.ipv4_mapped or ip.sixtofour:
        return embedded
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_allowed_address(address: str, allow_setting: str = "CATDOG_FETCH_ALLOW_PRIVATE") -> bool:
    """Whether a download may connect to `address`: globally routable ones only, unless the setting named
    `allow_setting` allows the rest (loopback, private networks, shared address space and link-local, where cloud
    metadata services answer, documentation and reserved ranges). An IPv6 address that embeds an IPv4 one (6to4,
    NAT64, IPv4-mapped or -compatible) is judged by the IPv4 address it reaches."""
    if getattr(settings, allow_setting):
        return True
    ip = _destination(ipaddress.ip_address(address))
    if ip.version == 6 and (ip not in _GLOBAL_UNICAST or ip in _DOCUMENTATION):
        return False
    return ip.is_global and not ip.is_multicast


def fetch(url: str) -> bytes:
    """Download one image within the configured time, size and redirect limits, from allowed addresses only.

    Redirects are followed here, not by requests, so that every hop's address is checked.
    """
    deadline = time.monotonic() + settings.CATDOG_FETCH_TIMEOUT
    for _ in range(settings.CATDOG_FETCH_MAX_REDIRECTS + 1):
        response, adapter = _get(url, deadline)
        try:
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code} {response.reason}".strip())
            return _read_body(response, deadline)
        finally:
            response.close()
            adapter.close()
    raise FetchError(f"more than {settings.CATDOG_FETCH_MAX_REDIRECTS} redirects")


class PinnedAdapter(HTTPAdapter):
    """Connects to the address that was checked rather than to whatever a second DNS lookup would give
    (DNS rebinding); TLS still verifies the certificate against the URL's host name."""

    def __init__(self, address: str, hostname: str):
        self._address, self._hostname = address, hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self._address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._hostname
            pool_kwargs["assert_hostname"] = self._hostname
        return host_params, pool_kwargs


def allowed_addresses(url: str, allow_setting: str = "CATDOG_FETCH_ALLOW_PRIVATE") -> tuple[SplitResult, list[str]]:
    """The parts of an http(s) URL and the addresses its host resolves to, all of them allowed (is_allowed_address);
    FetchError, saying why, for another scheme, a host that cannot be found or any address refused. Connect to the
    first through PinnedAdapter, so that a second lookup cannot lead elsewhere."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url} is not an http or https URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise FetchError(f"the host {parts.hostname} cannot be found") from None
    addresses = [info[4][0] for info in infos]
    # Every address must pass: a name with one public and one private address could connect to either.
    refused = [address for address in addresses if not is_allowed_address(address, allow_setting)]
    if refused:
        raise FetchError(
            f"refused: {parts.hostname} is a private, loopback or reserved address ({refused[0]}); "
            f"{allow_setting} allows them"
        )
    return parts, addresses


def _get(url: str, deadline: float) -> tuple[requests.Response, HTTPAdapter]:
    headers = {"Accept": "image/*", "User-Agent": "catdog-dataset-fetcher"}
    return pinned_send("GET", url, headers=headers, timeout=_remaining(deadline), said=settings.CATDOG_FETCH_TIMEOUT)


def pinned_send(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    timeout: float,
    said: float,
    data: bytes | None = None,
    allow_setting: str = "CATDOG_FETCH_ALLOW_PRIVATE",
) -> tuple[requests.Response, HTTPAdapter]:
    """One request to an address of `url`'s host that allowed_addresses allowed, the connection pinned to it: no
    session, so no cookies and no proxies from the environment (they would connect where nothing was checked), and
    an adapter never follows a redirect. The answer streams; the caller closes it and the adapter. FetchError, saying
    why, when the URL is refused or no answer comes (`said`: the time limit as the person set it)."""
    parts, addresses = allowed_addresses(url, allow_setting)
    adapter = PinnedAdapter(addresses[0], parts.hostname)
    headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
    request = requests.Request(method, url, data=data, headers=headers).prepare()
    try:
        return adapter.send(request, stream=True, timeout=timeout, proxies={}), adapter
    except requests.Timeout:
        adapter.close()
        raise FetchError(f"no answer within {said:g} s") from None
    except requests.RequestException as error:
        adapter.close()
        raise FetchError(f"the connection failed ({type(error).__name__})") from None


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"no answer within {settings.CATDOG_FETCH_TIMEOUT:g} s")
    return remaining


def _read_body(response: requests.Response, deadline: float) -> bytes:
    limit = settings.CATDOG_FETCH_MAX_BYTES
    too_large = f"larger than the limit of {filesizeformat(limit)}"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(too_large)
    chunks, size = [], 0
    try:
        # read1 returns what one socket read gives, so a server that trickles bytes meets the deadline.
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise FetchError(too_large)
            _remaining(deadline)
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise FetchError(f"the download broke off ({type(error).__name__})") from None
    return b"".join(chunks)
