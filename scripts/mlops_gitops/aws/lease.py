"""A lease in S3: one object per stage, written only if absent (a conditional put), so one deploy of
a stage runs at a time.

S3 conditional writes: ``IfNoneMatch="*"`` makes PutObject fail with 412 PreconditionFailed when the
key exists; ``IfMatch=<etag>`` makes it fail unless the object is still the one read (so two runs
taking over one expired lease can't both win).
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from mlops_gitops.aws.errors import error_code, is_missing

PRECONDITION_FAILED = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


@dataclass(frozen=True)
class LeaseRecord:
    """What a lease object holds: who took it, when, and until when it counts."""

    holder: str  # CodeBuild build id, or user@host
    pid: int
    commit: str
    started_at: datetime
    expires_at: datetime
    token: str  # unique per run: the release deletes only its own lease

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "holder": self.holder,
                "pid": self.pid,
                "commit": self.commit,
                "started_at": self.started_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "token": self.token,
            },
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> LeaseRecord | None:
        """The record, or None when the object is not one (it then counts as expired)."""
        try:
            doc = json.loads(data)
            return cls(
                str(doc["holder"]),
                int(doc["pid"]),
                str(doc["commit"]),
                datetime.fromisoformat(doc["started_at"]),
                datetime.fromisoformat(doc["expires_at"]),
                str(doc["token"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Taken:
    """The outcome of an attempt: ``held_by`` is the other run's record when the lease is not ours;
    ``took_over`` the expired record replaced, when there was one."""

    ours: bool
    held_by: LeaseRecord | None = None
    etag: str = ""  # of our lease object, when ours: what a renewal is conditional on
    took_over: LeaseRecord | None = None
    unreadable: bool = False  # an object at the key that is not a lease record was replaced
    joined: bool = False  # a live lease of the same holder (another build of one batch) was joined


@dataclass
class LeaseStore:
    client: Any  # boto3 S3 client

    def take(
        self,
        bucket: str,
        key: str,
        record: LeaseRecord,
        abandoned: Callable[[LeaseRecord], bool] = lambda found: False,
        joinable: Callable[[LeaseRecord], bool] = lambda found: False,
    ) -> Taken:
        """Write ``record`` at ``key`` only if no live lease is there. An expired lease, one
        ``abandoned`` says is a dead run's, or an object that is no lease record is replaced with a
        put conditional on its ETag. A live lease ``joinable`` accepts (the same batch's) is shared:
        nothing is written, and the caller holds it with the builds that took it."""
        etag = self._put(bucket, key, record, IfNoneMatch="*")
        if etag is not None:
            return Taken(True, etag=etag)
        current = self._read(bucket, key)
        if current is None:  # released between our put and our read: try once more
            return self.take_once_more(bucket, key, record)
        found, old = current
        if found is not None and not found.expired(record.started_at) and joinable(found):
            return Taken(True, held_by=found, etag=old, joined=True)
        if found is not None and not found.expired(record.started_at) and not abandoned(found):
            return Taken(False, held_by=found)
        etag = self._put(bucket, key, record, IfMatch=old)
        if etag is None:
            again = self._read(bucket, key)  # another run took it over first
            return Taken(False, held_by=again[0] if again else None)
        return Taken(True, took_over=found, unreadable=found is None, etag=etag)

    def take_once_more(self, bucket: str, key: str, record: LeaseRecord) -> Taken:
        etag = self._put(bucket, key, record, IfNoneMatch="*")
        if etag is not None:
            return Taken(True, etag=etag)
        current = self._read(bucket, key)
        return Taken(False, held_by=current[0] if current else None)

    def _put(self, bucket: str, key: str, record: LeaseRecord, **condition: str) -> str | None:
        """Write ``record`` if ``condition`` (IfNoneMatch / IfMatch) holds: its ETag, or None when
        S3 refused the condition."""
        try:
            put = self.client.put_object(
                Bucket=bucket, Key=key, Body=record.to_json(), ContentType="application/json", **condition
            )
        except Exception as exc:
            if error_code(exc) not in PRECONDITION_FAILED:
                raise
            return None
        return put.get("ETag", "")

    def renew(self, bucket: str, key: str, record: LeaseRecord, etag: str) -> str | None:
        """Extend our lease (``record`` with a later expiry), only if the object is still the one
        we wrote (``etag``): the new ETag, or None when the lease is no longer ours."""
        try:
            return self._put(bucket, key, record, IfMatch=etag)
        except Exception as exc:
            if is_missing(exc):  # deleted meanwhile: not ours any more
                return None
            raise

    def renew_joint(self, bucket: str, key: str, record: LeaseRecord) -> str | None:
        """Extend a lease several builds share (same token): read it, and write ``record`` only
        if it is still that lease and unchanged since the read. The new ETag; "" when another
        member renewed it in between (it is extended either way); None when it is not ours."""
        current = self._read(bucket, key)
        if current is None or current[0] is None or current[0].token != record.token:
            return None
        etag = self._put(bucket, key, record, IfMatch=current[1])
        return "" if etag is None else etag

    def release(self, bucket: str, key: str, token: str) -> bool:
        """Delete the lease if it is still ours (same token); False when it is not (taken over
        after it expired) or already gone."""
        current = self._read(bucket, key)
        if current is None or current[0] is None or current[0].token != token:
            return False
        self.client.delete_object(Bucket=bucket, Key=key)
        return True

    def _read(self, bucket: str, key: str) -> tuple[LeaseRecord | None, str] | None:
        try:
            got = self.client.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return None
            raise
        body = got["Body"]
        try:
            data = body.read(64 * 1024)
        finally:
            body.close()
        return LeaseRecord.from_json(data), got["ETag"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def expiry(start: datetime, seconds: float) -> datetime:
    return start + timedelta(seconds=seconds)
