"""Files on S3-compatible storage, end to end: `batchyard serve` with its blob store on a local S3 server
(moto, over real HTTP), uploads streamed in, image outputs (one of them past a multipart part) written by the
workers, a ZIP streamed out of the bucket."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from PIL import Image

from tests.integration.images_server import API, ImagesServer, images_server, jpeg
from tests.support.s3 import REGION, MotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[str, str, object]]:
    moto = MotoServer()
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing-secret", region_name=REGION
    ).client("s3", endpoint_url=moto.url)
    bucket = f"files-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield moto.url, bucket, client
    finally:
        client.close()
        moto.stop()


@pytest.fixture(scope="module")
def server(s3: tuple[str, str, object], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImagesServer]:
    endpoint, bucket, _ = s3
    root = tmp_path_factory.mktemp("s3-serve")
    blob_url = f"s3://{bucket}/shop?endpoint_url={endpoint}&region={REGION}"
    with images_server(f"sqlite:///{root}/s3.db", root, BATCHYARD_BLOB_URL=blob_url, **CREDENTIALS) as running:
        yield running


def _keys(s3: tuple[str, str, object], prefix: str) -> list[str]:
    _, bucket, client = s3
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return [o["Key"] for o in listed.get("Contents", [])]


def test_uploads_outputs_and_the_zip_go_through_the_bucket(server: ImagesServer, s3: tuple[str, str, object]) -> None:
    alice = server.user()
    photos = [(f"衬衫_{i}.jpg", jpeg(i)) for i in range(5)]
    job = alice.submit(alice.upload_ids(photos), format="png").json()
    done = alice.finished(job["id"])
    assert (done["status"], done["succeeded"]) == ("succeeded", 5)
    assert len(_keys(s3, "shop/uploads/")) >= 5
    assert len(_keys(s3, f"shop/jobs/{job['id']}/items/")) == 5
    assert not Path(server.blobs).exists(), "nothing written to the local directory"
    response = alice.http.get(f"{API}/jobs/{job['id']}/download.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert archive.namelist() == [f"衬衫_{i}.png" for i in range(5)]


def test_a_large_upload_and_a_large_output_cross_multipart_parts(
    server: ImagesServer, s3: tuple[str, str, object]
) -> None:
    alice = server.user()
    noise = Image.effect_noise((2900, 2300), 90).convert("RGB")
    source = io.BytesIO()
    noise.save(source, "JPEG", quality=98)
    big = source.getvalue()
    assert 8 * 2**20 < len(big) < 10_000_000, len(big)  # past one 8 MiB part, under the 10 MB cap
    [upload] = alice.upload([("noise.jpg", big)], job_type="images").json()["uploads"]
    assert upload["sha256"] == hashlib.sha256(big).hexdigest()
    job = alice.submit([upload["id"]], format="png").json()
    assert alice.finished(job["id"], timeout=120)["status"] == "succeeded"
    [artifact] = alice.http.get(f"{API}/jobs/{job['id']}/artifacts").json()
    assert artifact["size"] > 8 * 2**20, "the output too is larger than a part"
    body = alice.http.get(f"{API}/artifacts/{artifact['id']}")
    assert hashlib.sha256(body.content).hexdigest() == artifact["sha256"]
    assert Image.open(io.BytesIO(body.content)).size == (2900, 2300)
