"""S3 as deploy and the reports use it: content-addressed artifacts and small reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_gitops.aws.errors import is_missing


@dataclass
class ArtifactStore:
    client: Any  # boto3 S3 client (or a fake with the same calls)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return False
            raise
        return True

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def read(self, uri: str, max_bytes: int = 1_000_000) -> bytes:
        """The bytes of a small object named by an s3:// URI (metrics reports are small)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket or not key:
            raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
        body = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")["Body"]
        try:
            return body.read()
        finally:
            body.close()
