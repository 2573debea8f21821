"""S3 locations, ARNs and schedule expressions: tables of accepted and refused values."""

from __future__ import annotations

import pytest

from mlops_gitops.config.arns import ArnError, parse_arn
from mlops_gitops.config.s3 import S3Error, S3Location, bucket_problem, parse_asset, parse_location
from mlops_gitops.config.schedule import ScheduleError, check_schedule


@pytest.mark.parametrize(
    "value, expected",
    [
        ("s3://my-bucket/some/prefix", S3Location("my-bucket", "some/prefix")),
        ("my-bucket/some/prefix", S3Location("my-bucket", "some/prefix")),  # MWO's form
        ("s3://my-bucket", S3Location("my-bucket", "")),
        ("my-bucket/prefix/", S3Location("my-bucket", "prefix")),  # trailing "/" dropped as MWO did
        ("s3://a.b-c/k", S3Location("a.b-c", "k")),
    ],
)
def test_s3_locations_in_both_forms_normalise_to_one(value: str, expected: S3Location) -> None:
    assert parse_location(value) == expected
    assert parse_location(expected.uri) == expected


@pytest.mark.parametrize(
    "value, message_part",
    [
        ("s3://s3://bucket/p", "s3:// scheme twice"),
        ("https://bucket.s3.amazonaws.com/p", "is not an S3 location"),
        ("My-Bucket/p", "upper-case"),
        ("my_bucket/p", "underscores"),
        ("ab/p", "not a valid S3 bucket name"),
        ("192.168.1.1/p", "IP address"),
        ("my..bucket/p", "adjacent dots"),
        ("xn--bucket/p", "may not start with 'xn--'"),
        ("bucket-s3alias/p", "may not end with '-s3alias'"),
        ("s3:///p", "names no bucket"),
        ("bucket/a//b", "empty path segment"),
    ],
)
def test_bad_s3_locations_are_refused_with_a_reason(value: str, message_part: str) -> None:
    with pytest.raises(S3Error) as info:
        parse_location(value)
    assert message_part in info.value.message
    assert info.value.hint


def test_assets_keys_are_relative_and_s3_uris_absolute() -> None:
    assert parse_asset("models/churn/model.tar.gz") == "models/churn/model.tar.gz"
    assert parse_asset("s3://b-1/k") == S3Location("b-1", "k")
    with pytest.raises(S3Error, match="starts with '/'"):
        parse_asset("/models/x")


def test_bucket_problem_is_none_for_a_good_name() -> None:
    assert bucket_problem("mlops-demo-models") is None
    assert bucket_problem("a" * 64) is not None


@pytest.mark.parametrize(
    "value, service, types, resource_type",
    [
        ("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab", "kms", ["key", "alias"], "key"),
        ("arn:aws:kms:eu-west-1:111122223333:alias/ml", "kms", ["key", "alias"], "alias"),
        ("arn:aws-cn:kms:cn-north-1:111122223333:key/k", "kms", ["key"], "key"),
        (
            "arn:aws-us-gov:sagemaker:us-gov-west-1:111122223333:model-package/g/1",
            "sagemaker",
            ["model-package"],
            "model-package",
        ),
        (
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf",
            "secretsmanager",
            ["secret"],
            "secret",
        ),
        ("arn:aws:sns:us-east-1:111122223333:alerts", "sns", ["topic"], "topic"),
    ],
)
def test_valid_arns(value: str, service: str, types: list[str], resource_type: str) -> None:
    assert parse_arn(value, service, types).resource_type == resource_type


@pytest.mark.parametrize(
    "value, message_part",
    [
        ("key/123", "is not an ARN"),
        ("arn:aws:kms:us-east-1:111122223333", "is not an ARN"),
        ("arn:amazon:kms:us-east-1:111122223333:key/k", "is not an AWS partition"),
        ("arn:aws:s3:us-east-1:111122223333:key/k", "not a kms ARN"),
        ("arn:aws:kms:us-east-9x:111122223333:key/k", "is not an AWS region"),
        ("arn:aws:kms:cn-north-1:111122223333:key/k", "belongs to partition 'aws-cn'"),
        ("arn:aws:kms:us-east-1:11112222333:key/k", "is not 12 digits"),
        ("arn:aws:kms:us-east-1:111122223333:grant/k", "does not name a key or alias"),
        ("arn:aws:kms:us-east-1:111122223333:key/", "does not name a key or alias"),
    ],
)
def test_bad_arns_say_which_part_is_wrong(value: str, message_part: str) -> None:
    with pytest.raises(ArnError) as info:
        parse_arn(value, "kms", ["key", "alias"])
    assert message_part in info.value.message


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 * ? * * *)",
        "cron(0 2 * * ? *)",
        "cron(15 10 ? * MON-FRI *)",
        "cron(0/15 * ? * * *)",
        "cron(0 8 ? * 2#1 *)",
        "cron(0 10 L * ? *)",
        "cron(0 10 15W * ? 2030)",
        "cron(0 0 1 JAN,JUL ? *)",
        "rate(1 day)",
        "rate(12 hours)",
    ],
)
def test_valid_schedules(expr: str) -> None:
    check_schedule(expr, allow_rate=True)


@pytest.mark.parametrize(
    "expr, message_part",
    [
        ("cron(0 2 * * *)", "has 5 fields"),
        ("cron(0 * * * * *)", "exactly one of day-of-month"),
        ("cron(0 * ? * ? *)", "exactly one of day-of-month"),
        ("cron(60 * ? * * *)", "minutes 60 is outside 0-59"),
        ("cron(0 24 ? * * *)", "hours 24 is outside 0-23"),
        ("cron(0 0 ? FOO * *)", "'FOO' is not a valid month value"),
        ("cron(0 0 ? * 2#6 *)", "the week after '#' must be 1-5"),
        ("cron(0/0 * ? * * *)", "is not a positive number"),
        ("cron(0 ? * * * *)", "'?' is only allowed"),
        ("rate(1 days)", "takes the singular unit"),
        ("rate(2 hour)", "takes the plural unit"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(1 week)", "not a valid rate expression"),
        ("every hour", "is not a cron(...) or rate(...) expression"),
    ],
)
def test_bad_schedules(expr: str, message_part: str) -> None:
    with pytest.raises(ScheduleError) as info:
        check_schedule(expr, allow_rate=True)
    assert message_part in info.value.message


def test_rate_is_refused_where_only_cron_is_allowed() -> None:
    with pytest.raises(ScheduleError, match="rate"):
        check_schedule("rate(1 day)", allow_rate=False)


@pytest.mark.parametrize("expr", ["cron(* * ? * * *)", "cron(0/15 * ? * * *)", "cron(0,30 * ? * * *)"])
def test_monitor_schedules_run_at_most_hourly(expr: str) -> None:
    check_schedule(expr, allow_rate=False)  # fine for EventBridge...
    with pytest.raises(ScheduleError, match="at most hourly"):
        check_schedule(expr, allow_rate=False, monitor=True)  # ...not for SageMaker monitoring
