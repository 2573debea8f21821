"""S3 as deploy and the reports use it: content-addressed artifacts and small reads."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from mlops_gitops.aws.cloudformation import StackError
from mlops_gitops.aws.errors import is_missing


class ArtifactMismatch(StackError):
    """An object at a content-addressed key does not hold the bytes its key names: not used."""

    def __init__(self, bucket: str, key: str, expected: str, found: str) -> None:
        super().__init__(
            "-",
            f"s3://{bucket}/{key} is not what mlopsctl would upload (SHA-256 {found}, expected {expected}); "
            "the object was not used",
            "only the role that uploads there (deploy's, or bootstrap's for templates) may write it: "
            "find out who wrote it, delete it, and run the command again",
        )
        self.bucket, self.key = bucket, key


def b64sha256(data: bytes) -> str:
    """SHA-256 as S3 spells it (x-amz-checksum-sha256: base64 of the digest)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass
class ArtifactStore:
    client: Any  # boto3 S3 client (or a fake with the same calls)
    # The account that must own every bucket this store touches. S3 then refuses (403) a call to a
    # bucket of that name owned by anyone else, so a bucket name squatted in another account can't
    # receive our templates or hand us its objects:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
    expected_owner: str | None = None

    def _owner(self) -> dict[str, str]:
        return {"ExpectedBucketOwner": self.expected_owner} if self.expected_owner else {}

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.head_object(Bucket=bucket, Key=key, **self._owner())
        except Exception as exc:
            if is_missing(exc):
                return False
            raise
        return True

    def put(self, bucket: str, key: str, data: bytes) -> None:
        """Write with S3's SHA-256 checksum, which S3 checks against the bytes it receives."""
        self.client.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=b64sha256(data),
            **self._owner(),
        )

    def put_verified(self, bucket: str, key: str, data: bytes) -> None:
        """Content-addressed: upload ``data`` unless the key exists, and use an object found there
        only once its SHA-256 is shown to be that of ``data`` - never on existence alone.

        The proof is S3's own SHA-256 checksum (HeadObject, ChecksumMode=ENABLED), which S3 checked
        against the bytes when they were written with it; an object without one (or with the
        checksum of a multipart upload's parts, "<b64>-<n>") is read and hashed. A digest in user
        metadata is never trusted: whoever writes an object writes its metadata too.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
        """
        digest = b64sha256(data)
        try:
            head = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **self._owner())
        except Exception as exc:
            if not is_missing(exc):
                raise
            self.put(bucket, key, data)
            return
        found = head.get("ChecksumSHA256")
        if not found or "-" in found:
            found = b64sha256(self.client.get_object(Bucket=bucket, Key=key, **self._owner())["Body"].read())
        if found != digest:
            raise ArtifactMismatch(bucket, key, digest, found)

    def read(self, uri: str, max_bytes: int = 1_000_000) -> bytes:
        """The bytes of a small object named by an s3:// URI (metrics reports are small)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket or not key:
            raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
        body = self.client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}", **self._owner()
        )["Body"]
        try:
            return body.read()
        finally:
            body.close()
