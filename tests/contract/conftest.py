"""Fixtures of the contract suites that only some of them need: S3 over real HTTP for the blob store suite."""

from __future__ import annotations

from tests.support.s3 import aws_credentials, s3_bucket, s3_client, s3_endpoint

__all__ = ["aws_credentials", "s3_bucket", "s3_client", "s3_endpoint"]
