"""Gathering a dataset from image URLs, against a local HTTP server; each URL's outcome is reported."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trainer.datasets import fetching as datasets
from trainer.models import Dataset

from .dataset_helpers import photo

pytest_plugins = ["tests.dataset_fixtures"]
pytestmark = pytest.mark.django_db

BIG = photo(30, "BMP", size=(100, 100))  # 30 kB, over the limit the tests set
SEEN_HOSTS: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    routes = {
        "/cat/1.png": photo(1),
        "/cat/2.png": photo(2),
        "/dog/1.png": photo(3),
        "/dog/2.png": photo(4),
        "/cat/copy.png": photo(1),
        "/big.bmp": BIG,
    }

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        SEEN_HOSTS.append(self.headers["Host"])
        if self.path in self.routes:
            self._send(200, self.routes[self.path], "image/png")
        elif self.path.startswith("/hop/"):
            hops = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{hops - 1}" if hops > 1 else "/dog/2.png")
            self.end_headers()
        elif self.path.startswith("/to/"):
            self.send_response(301)
            self.send_header("Location", "http://" + self.path.removeprefix("/to/"))
            self.end_headers()
        elif self.path == "/page.jpg":
            self._send(200, b"<!doctype html><title>Not a photo</title>", "text/html")
        elif self.path == "/big-unannounced.bmp":
            self.send_response(200)  # no Content-Length: only counting the bytes as they come stops it
            self.end_headers()
            self.wfile.write(BIG)
        elif self.path == "/slow.png":
            time.sleep(1.5)
            self._send(200, photo(5), "image/png")
        elif self.path == "/trickle.png":
            self.send_response(200)
            self.end_headers()
            for byte in photo(6):
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(address: str):
    server = ThreadingHTTPServer((address, 0), _Handler)
    server.daemon_threads = True
    server.block_on_close = False  # slow handlers must not hold up the tests' end
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def server():
    with _serve("127.0.0.1") as http:
        yield f"http://127.0.0.1:{http.server_address[1]}"
        http.shutdown()


@pytest.fixture(scope="module")
def other_server():
    with _serve("127.0.0.2") as http:
        yield f"127.0.0.2:{http.server_address[1]}"
        http.shutdown()


@pytest.fixture
def fetch_settings(settings):
    settings.CATDOG_FETCH_ALLOW_PRIVATE = True  # the test server is on loopback
    settings.CATDOG_FETCH_MAX_BYTES = 20_000
    settings.CATDOG_FETCH_MAX_REDIRECTS = 3
    settings.CATDOG_FETCH_TIMEOUT = 1.0
    return settings


def _outcomes(dataset: Dataset) -> dict[str, tuple[str, str]]:
    return {row["url"]: (row["outcome"], row["detail"]) for row in dataset.report["urls"]}


def test_each_url_is_added_or_skipped_with_the_reason(make_dataset, server, fetch_settings):
    urls = [
        (f"{server}/cat/1.png", "cat"),
        (f"{server}/cat/2.png", "cat"),
        (f"{server}/dog/1.png", "dog"),
        (f"{server}/hop/3", "dog"),
        (f"{server}/cat/copy.png", "cat"),
        (f"{server}/missing.png", "cat"),
        (f"{server}/page.jpg", "dog"),
        (f"{server}/big.bmp", "dog"),
        (f"{server}/big-unannounced.bmp", "dog"),
        (f"{server}/hop/4", "dog"),
        (f"http://127.0.0.1:{_free_port()}/nobody-listens.png", "dog"),
    ]
    dataset = make_dataset(urls=urls)

    assert dataset.status == Dataset.Status.READY, dataset.error
    assert dataset.source == Dataset.Source.URLS
    assert dataset.report["counts"] == {"cat": 2, "dog": 2}
    outcomes = _outcomes(dataset)
    assert [row["url"] for row in dataset.report["urls"]] == [url for url, _ in urls]  # every URL, in order
    assert outcomes[f"{server}/cat/1.png"] == ("added", "added to cat (32×24)")
    assert outcomes[f"{server}/hop/3"] == ("added", "added to dog (32×24)")  # three redirects are allowed
    assert outcomes[f"{server}/cat/copy.png"] == (
        "duplicate",
        f"the same image as {server}/cat/1.png; kept once",
    )
    assert outcomes[f"{server}/missing.png"] == ("skipped", "HTTP 404 Not Found")
    assert outcomes[f"{server}/page.jpg"][0] == "skipped"
    assert outcomes[f"{server}/page.jpg"][1].startswith("page.jpg is not an image we can read")
    assert outcomes[f"{server}/big.bmp"] == ("skipped", "larger than the limit of 19.5\xa0KB")
    assert outcomes[f"{server}/big-unannounced.bmp"] == ("skipped", "larger than the limit of 19.5\xa0KB")
    assert outcomes[f"{server}/hop/4"] == ("skipped", "more than 3 redirects")
    assert outcomes[urls[-1][0]] == ("skipped", "the connection failed (ConnectionError)")
    assert set(dataset.images.values_list("origin", flat=True)) == {
        f"{server}/cat/1.png",
        f"{server}/cat/2.png",
        f"{server}/dog/1.png",
        f"{server}/hop/3",
    }
    assert dataset.report["skipped_count"] == 6  # the URL failures are in the skipped list too


def test_a_server_that_answers_too_slowly_is_given_up(server, fetch_settings):
    fetch_settings.CATDOG_FETCH_TIMEOUT = 0.5
    started = time.monotonic()
    with pytest.raises(datasets.FetchError, match=r"^no answer within 0.5 s$"):
        datasets.fetch(f"{server}/slow.png")
    with pytest.raises(datasets.FetchError, match=r"^no answer within 0.5 s$"):
        datasets.fetch(f"{server}/trickle.png")  # each byte in time, the whole too late
    assert time.monotonic() - started < 3


def test_loopback_addresses_are_refused_unless_the_setting_allows_them(make_dataset, server, fetch_settings):
    fetch_settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    port = server.rsplit(":", 1)[1]
    urls = [(f"{server}/cat/1.png", "cat"), (f"http://localhost:{port}/dog/1.png", "dog")]
    SEEN_HOSTS.clear()
    dataset = make_dataset(urls=urls)

    assert dataset.status == Dataset.Status.FAILED
    assert dataset.error == "No usable image was found; the report lists what was skipped and why."
    outcomes = _outcomes(dataset)
    assert outcomes[urls[0][0]] == (
        "skipped",
        "refused: 127.0.0.1 is a private, loopback or reserved address (127.0.0.1); "
        "CATDOG_FETCH_ALLOW_PRIVATE allows them",
    )
    assert outcomes[urls[1][0]][1].startswith("refused: localhost is a private, loopback or reserved address")
    assert SEEN_HOSTS == []  # refused before connecting


def test_every_redirect_target_is_checked(server, other_server, fetch_settings, monkeypatch):
    # Treat 127.0.0.1 as public and 127.0.0.2 as private: the first hop passes, the redirect must not.
    fetch_settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    monkeypatch.setattr(datasets, "is_allowed_address", lambda address, allow_setting="": address == "127.0.0.1")
    assert datasets.fetch(f"{server}/cat/1.png") == photo(1)
    with pytest.raises(datasets.FetchError, match=r"^refused: 127.0.0.2 is a private"):
        datasets.fetch(f"{server}/to/{other_server}/cat/1.png")


def test_the_connection_goes_to_the_address_that_was_checked(server, fetch_settings, monkeypatch):
    # A name that resolves to an allowed address when checked and elsewhere afterwards (DNS rebinding).
    port = int(server.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.255.255.1", "10.255.255.1"])

    def rebinding_getaddrinfo(host, *args, **kwargs):
        if host == "pets.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    SEEN_HOSTS.clear()
    assert datasets.fetch(f"http://pets.test:{port}/cat/2.png") == photo(2)
    assert SEEN_HOSTS == [f"pets.test:{port}"]


@pytest.mark.parametrize("url", ["ftp://example.com/cat.png", "file:///etc/passwd", "http:///nohost.png"])
def test_only_http_and_https_urls_are_fetched(url):
    with pytest.raises(datasets.FetchError, match="is not an http or https URL"):
        datasets.fetch(url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_ipv4_mapped_address_reaches_the_ipv4_host_and_is_judged_as_it(server, fetch_settings):
    mapped = server.replace("127.0.0.1", "[::ffff:127.0.0.1]")
    assert datasets.fetch(f"{mapped}/cat/1.png") == photo(1)  # allowed by the setting: it reaches 127.0.0.1
    fetch_settings.CATDOG_FETCH_ALLOW_PRIVATE = False
    SEEN_HOSTS.clear()
    with pytest.raises(datasets.FetchError, match=r"^refused: ::ffff:127.0.0.1 is a private, loopback"):
        datasets.fetch(f"{mapped}/cat/1.png")
    assert SEEN_HOSTS == []
