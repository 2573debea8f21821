"""S3 locations in both accepted forms: ``s3://bucket/prefix`` and MWO's ``bucket/prefix``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


class S3Error(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # may be "" (the whole bucket); never starts with "/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"


def bucket_problem(bucket: str) -> tuple[str, str] | None:
    """Why ``bucket`` is not a valid S3 bucket name, as (message, hint), or None."""
    fix = "bucket names have 3-63 lower-case letters, digits, dots and hyphens, and start and end with a letter or digit"
    if bucket != bucket.lower() and _BUCKET.fullmatch(bucket.lower()):
        return f"bucket name {bucket!r} has upper-case letters", f"use {bucket.lower()!r}"
    if "_" in bucket and _BUCKET.fullmatch(bucket.replace("_", "-")):
        return f"bucket name {bucket!r} has underscores", f"use hyphens: {bucket.replace('_', '-')!r}"
    if not _BUCKET.fullmatch(bucket):
        return f"{bucket!r} is not a valid S3 bucket name", fix
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        return f"bucket name {bucket!r} has adjacent dots or a dot next to a hyphen", fix
    if _IP.fullmatch(bucket):
        return f"bucket name {bucket!r} looks like an IP address", fix
    for prefix in _RESERVED_PREFIXES:
        if bucket.startswith(prefix):
            return f"bucket names may not start with {prefix!r}", fix
    for suffix in _RESERVED_SUFFIXES:
        if bucket.endswith(suffix):
            return f"bucket names may not end with {suffix!r}", fix
    return None


def parse_location(value: str) -> S3Location:
    """Parse ``s3://bucket/prefix`` or MWO's ``bucket/prefix``; raise S3Error when it is neither."""
    if value.startswith("s3://"):
        rest = value[5:]
    elif value.lower().startswith(("s3:", "s3a:", "s3n:")) or value.startswith("S3://"):
        raise S3Error(
            f"{value!r} has a malformed scheme", "write s3://bucket/prefix (lower-case s3, two slashes)"
        )
    elif "://" in value or value.startswith("arn:"):
        scheme = value.split(":", 1)[0]
        raise S3Error(f"{value!r} is not an S3 location ({scheme}: is not s3:)", "write s3://bucket/prefix")
    else:
        rest = value
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise S3Error(f"{value!r} names no bucket", "write s3://bucket/prefix or bucket/prefix")
    if key.startswith("s3://") or value.startswith("s3://s3:"):
        raise S3Error(f"{value!r} has the s3:// scheme twice", "write s3:// once, e.g. s3://bucket/prefix")
    problem = bucket_problem(bucket)
    if problem:
        raise S3Error(*problem)
    _check_key(value, key)
    return S3Location(bucket, key.rstrip("/") if key.strip("/") else "")


def parse_asset(value: str) -> S3Location | str:
    """``s3://bucket/key`` gives a location; anything else is MWO's key in the assets bucket."""
    if value.startswith("s3://") or "://" in value or value.lower().startswith(("s3:", "s3a:", "s3n:")):
        return parse_location(value)  # a malformed scheme is reported as such, not taken as a key
    if value.startswith("/"):
        raise S3Error(
            f"{value!r} starts with '/'",
            "assets keys are relative: drop the leading '/' or write s3://bucket/key",
        )
    _check_key(value, value)
    return value


# Characters S3 tells to avoid in keys that also break the JSON (and JSONata) the templates build
# from a location (state machine definitions, the SageMaker Pipeline definition), and that the
# templates' AllowedPattern refuses: whitespace, a double quote, a backslash, braces, control
# characters. https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
_UNSAFE_KEY = re.compile(r'["\\\s{}\x00-\x1f\x7f]')


def _check_key(value: str, key: str) -> None:
    bad = _UNSAFE_KEY.search(key)
    if bad:
        raise S3Error(
            f"the S3 key holds {bad.group()!r}, a character S3 says to avoid in keys",
            "remove spaces, quotes, backslashes, braces and control characters from the location",
        )
    if len(key.encode("utf-8")) > 1024:
        raise S3Error(f"the S3 key of {value[:40]!r}... is longer than 1024 bytes", "shorten the key")
    if "//" in key:
        raise S3Error(f"{value!r} has an empty path segment ('//')", "remove the doubled '/'")
