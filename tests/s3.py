"""A real S3-compatible object store for the S3 tests: moto's server, as a process of its own on loopback.

Loaded with `pytest_plugins = ["tests.s3"]` by the tests/test_s3_*.py files. One server serves the whole
run; each test starts from an empty bucket. The test process switches its storage to it with the
`s3_storage` fixture; a worker started with `S3Server.env()` uses it through the same settings.
"""

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from catdog_site.settings import base as base_settings

from .dataset_helpers import media_files
from .worker import stop


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str = "catdog-test"
    region: str = "us-east-1"
    access_key: str = "test-access-key"
    secret_key: str = "test-secret-key"
    url_expire_seconds: int = 60

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def keys(self) -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def unsigned_url(self, key: str) -> str:
        return f"{self.endpoint_url}/{self.bucket}/{key}"

    def empty(self) -> None:
        client = self.client()
        for key in self.keys():
            client.delete_object(Bucket=self.bucket, Key=key)

    def storages(self) -> dict:
        """STORAGES for this server, built by the function the settings use."""
        default = base_settings.s3_storage(
            bucket=self.bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
            url_expire_seconds=self.url_expire_seconds,
        )
        return {"default": default, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

    def env(self) -> dict[str, str]:
        """The variables that make a process started with catdog's settings store its files here."""
        return {
            "CATDOG_TEST_S3": "true",  # see catdog_site/settings/test.py
            "CATDOG_S3_BUCKET": self.bucket,
            "CATDOG_S3_ENDPOINT_URL": self.endpoint_url,
            "CATDOG_S3_REGION": self.region,
            "CATDOG_S3_ACCESS_KEY_ID": self.access_key,
            "CATDOG_S3_SECRET_ACCESS_KEY": self.secret_key,
            "CATDOG_S3_URL_EXPIRE_SECONDS": str(self.url_expire_seconds),
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_s3_server(log_path: Path):
    """Start `python -m moto.server` on a free loopback port, create the bucket, stop it afterwards."""
    port = _free_port()
    server = S3Server(endpoint_url=f"http://127.0.0.1:{port}")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    log = open(log_path, "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{server.endpoint_url}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's S3 server did not start:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.1)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        stop(process, timeout=10)
        log.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    with running_s3_server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        yield server


@pytest.fixture
def s3_storage(settings, s3_server) -> S3Server:
    """This test's files go to an empty bucket on the S3 server, through Django's storage API."""
    s3_server.empty()
    settings.STORAGES = s3_server.storages()
    return s3_server


@pytest.fixture(params=["local", "s3"])
def stored(request, settings):
    """A function that lists every stored file's name, in the storage this run of the test uses."""
    if request.param == "s3":
        return request.getfixturevalue("s3_storage").keys
    return lambda: media_files(settings)
