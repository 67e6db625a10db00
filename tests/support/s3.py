"""S3 over real HTTP for the blob store tests: moto's ThreadedMotoServer, in a process of its own (so that the
objects it holds never count in the memory a test measures), on a free port of 127.0.0.1, once per session.

Every test gets a fresh bucket and dummy credentials in its environment, so nothing ever reaches real AWS.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"
# The child serves until its stdin closes, so it also ends when the test session dies without cleaning up.
_SERVE = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


class MotoServer:
    """A moto S3 server in a child process; ``url`` is its endpoint."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self.stop()
            raise RuntimeError("moto's S3 server did not start (is moto[server] installed?)")
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def use_dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3's credential chain at dummies only: no profile, no config file, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    use_dummy_credentials(monkeypatch)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = MotoServer()
    yield server.url
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str, aws_credentials: None) -> Iterator[S3Client]:
    """A plain boto3 client on the moto server, to look behind a store's back."""
    client: S3Client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    yield client
    client.close()


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    """A new, empty bucket for one test."""
    name = f"blobs-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name
