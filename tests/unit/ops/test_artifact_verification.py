"""Deploy trusts no object it did not verify (issue 13, finding 2).

Keys in the deploy bucket are content-addressed (templates/<sha256>.yaml, lambda/<name>-<hash>.zip),
so a planted object at the next key a change will hash to would be deployed by it. Deploy reuses an
object only once its SHA-256 is shown to be that of the bytes it would upload: S3's own checksum
(HeadObject ChecksumMode=ENABLED; S3 checks a supplied checksum against the bytes it stores,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html), else the
object read back and hashed. A digest in user metadata is never trusted (its writer chose it)."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops_gitops.aws.s3 import ArtifactMismatch
from mlops_gitops.ops.deploy import Deployer, review_prefix
from tests.fakes import fake_stage

BUCKET = "mlops-deploy-123456789012-us-east-1"
KEY = "lambda/inference_api-0123456789abcdef.zip"
GOOD = b"the zip deploy builds"


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class FakeS3:
    """S3 as far as _put_once uses it: objects with an optional stored SHA-256 checksum."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def head_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("head_object", kw))
        if kw["Key"] not in self.objects:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        _, extra = self.objects[kw["Key"]]
        return dict(extra) if kw.get("ChecksumMode") == "ENABLED" else {}

    def get_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get_object", kw))
        return {"Body": io.BytesIO(self.objects[kw["Key"]][0])}

    def put_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("put_object", kw))
        if "ChecksumSHA256" in kw:
            assert kw["ChecksumSHA256"] == b64sha(kw["Body"]), "S3 would answer BadDigest"
        self.objects[kw["Key"]] = (kw["Body"], {"ChecksumSHA256": kw["ChecksumSHA256"]})
        return {}

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def deployer(s3: FakeS3) -> Deployer:
    return Deployer(None, None, fake_stage(None, s3=s3), artifact_bucket=BUCKET)  # type: ignore[arg-type]


def test_a_planted_object_at_a_content_addressed_key_is_refused_by_name() -> None:
    s3 = FakeS3()
    s3.objects[KEY] = (b"an attacker's zip", {})  # written without a checksum
    d = deployer(s3)
    with pytest.raises(ArtifactMismatch) as caught:
        d._put_once(KEY, GOOD)
    assert f"s3://{BUCKET}/{KEY}" in str(caught.value) and "not used" in str(caught.value)
    assert "put_object" not in s3.names(), "the planted object is left for inspection, not overwritten"
    assert KEY not in d._uploaded, "and never counted as uploaded"


def test_a_forged_metadata_digest_does_not_make_an_object_trusted() -> None:
    s3 = FakeS3()
    s3.objects[KEY] = (b"an attacker's zip", {"Metadata": {"sha256": b64sha(GOOD)}})
    with pytest.raises(ArtifactMismatch):
        deployer(s3)._put_once(KEY, GOOD)


def test_a_checksum_of_other_bytes_is_a_mismatch_without_reading_the_object() -> None:
    s3 = FakeS3()
    s3.objects[KEY] = (b"other", {"ChecksumSHA256": b64sha(b"other")})
    with pytest.raises(ArtifactMismatch):
        deployer(s3)._put_once(KEY, GOOD)
    assert "get_object" not in s3.names()


def test_an_object_with_s3s_sha256_of_these_bytes_is_reused_without_reading_it() -> None:
    s3 = FakeS3()
    s3.objects[KEY] = (GOOD, {"ChecksumSHA256": b64sha(GOOD)})
    d = deployer(s3)
    d._put_once(KEY, GOOD)
    d._put_once(KEY, GOOD)  # once per run
    assert s3.names() == ["head_object"]
    assert s3.calls[0][1]["ChecksumMode"] == "ENABLED"


@pytest.mark.parametrize("stored", [{}, {"ChecksumSHA256": "c29tZXRoaW5n-3"}], ids=["none", "multipart"])
def test_without_a_whole_object_checksum_the_object_is_read_and_hashed(stored: dict) -> None:
    s3 = FakeS3()
    s3.objects[KEY] = (GOOD, stored)
    deployer(s3)._put_once(KEY, GOOD)
    assert s3.names() == ["head_object", "get_object"]


def test_a_missing_key_is_uploaded_with_its_sha256_for_s3_to_check() -> None:
    s3 = FakeS3()
    deployer(s3)._put_once(KEY, GOOD)
    (put,) = [kw for name, kw in s3.calls if name == "put_object"]
    assert put["ChecksumAlgorithm"] == "SHA256" and put["ChecksumSHA256"] == b64sha(GOOD)


def test_previews_write_only_under_their_own_review_prefix() -> None:
    assert review_prefix({"CODEBUILD_BUILD_ID": "mlops-pr-check:8f1c-22"}) == "review/mlops-pr-check-8f1c-22"
    assert review_prefix({}).startswith("review/") and len(review_prefix({})) > len("review/") + 16
    assert review_prefix({}) != review_prefix({}), "one prefix per check"
