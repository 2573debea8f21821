"""ArtifactStore's S3 calls (Stubber: the parameters are what real S3 acts on)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from mlops_gitops.aws.s3 import ArtifactStore, b64sha256

DATA = b"AWSTemplateFormatVersion: '2010-09-09'\n"


@pytest.fixture
def s3():
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_every_call_names_the_expected_bucket_owner_when_one_is_set(s3) -> None:
    """S3 refuses a call naming ExpectedBucketOwner when another account owns the bucket
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html): a squatted
    bucket name can neither receive the template nor serve one."""
    client, stub = s3
    owner = {"ExpectedBucketOwner": "111122223333"}
    stub.add_client_error(
        "head_object",
        "404",
        http_status_code=404,
        expected_params={"Bucket": "b", "Key": "k", "ChecksumMode": "ENABLED", **owner},
    )
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "b",
            "Key": "k",
            "Body": DATA,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": b64sha256(DATA),
            **owner,
        },
    )
    stub.add_response("head_object", {}, {"Bucket": "b", "Key": "k", **owner})
    store = ArtifactStore(client, expected_owner="111122223333")
    store.put_verified("b", "k", DATA)
    assert store.exists("b", "k")


def test_without_an_owner_the_calls_name_none(s3) -> None:
    client, stub = s3
    stub.add_response("head_object", {}, {"Bucket": "b", "Key": "k"})
    assert ArtifactStore(client).exists("b", "k")


def test_an_object_of_another_checksum_is_not_used(s3) -> None:
    client, stub = s3
    stub.add_response(
        "head_object",
        {"ChecksumSHA256": b64sha256(b"other")},
        {"Bucket": "b", "Key": "k", "ChecksumMode": ANY},
    )
    from mlops_gitops.aws.s3 import ArtifactMismatch

    with pytest.raises(ArtifactMismatch):
        ArtifactStore(client).put_verified("b", "k", DATA)
