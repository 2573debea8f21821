"""Custom JSON Schema keywords: semantic checks that run where the schema places them.

Each function follows jsonschema's keyword protocol ``(validator, value, instance, schema)`` and
yields ValidationErrors carrying ``code`` and ``hint`` attributes, turned into Findings later.
The pipeline type of the document being checked comes from ``CURRENT_PIPELINE_TYPE``.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import cache
from typing import Any

from jsonschema import ValidationError

from mlops_gitops import awsdata
from mlops_gitops.config.arns import ArnError, parse_arn
from mlops_gitops.config.s3 import S3Error, bucket_problem, parse_asset, parse_location
from mlops_gitops.config.schedule import ScheduleError, check_schedule
from mlops_gitops.suggest import closest, did_you_mean, one_of

CURRENT_PIPELINE_TYPE: ContextVar[str | None] = ContextVar("CURRENT_PIPELINE_TYPE", default=None)

# RFC 5322's dot-atom form (no quoted local parts, no comments), a domain of LDH labels and a
# letters-only top-level label: what an SNS email subscription takes and a person can confirm.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_ECR_URI = re.compile(  # fullmatch: "\n" at the end is not accepted
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?P<ref>:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})?$"
)
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def problem(code: str, message: str, hint: str = "", severity: str = "error") -> ValidationError:
    err = ValidationError(message)
    err.code = code  # type: ignore[attr-defined]
    err.hint = hint  # type: ignore[attr-defined]
    err.severity = severity  # type: ignore[attr-defined]
    return err


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled to behave as JSON Schema's ECMA-262 regular expressions do, which is what
    editors and check-jsonschema apply to the same schema: ``\\d``, ``\\w`` and ``\\b`` are ASCII
    (re.ASCII), and ``$`` matches only at the very end of the string (Python's ``$`` also matches
    before a trailing newline, so ``^[0-9]+$`` would accept "123\\n"). ``$`` outside a character
    class becomes ``\\Z``; the schema uses no multi-line flags."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # "[]...]": a literal ] first in the class
                out.append("[]")
                i += 2
                continue
        elif ch == "$":
            ch = r"\Z"
        out.append(ch)
        i += 1
    return re.compile("".join(out), re.ASCII)


def pattern(validator: Any, patrn: str, instance: Any, schema: dict[str, Any]):
    """The standard ``pattern`` keyword with ECMA-262 semantics (see ``ecma_regex``)."""
    if isinstance(instance, str) and not ecma_regex(patrn).search(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def botocore_enum(validator: Any, spec: dict[str, Any], instance: Any, schema: dict[str, Any]):
    if not isinstance(instance, str) or (instance == "" and spec.get("allow_empty")):
        return
    shape = spec.get("by_pipeline_type", {}).get(CURRENT_PIPELINE_TYPE.get(), spec["shape"])
    service = spec.get("service", "sagemaker")
    values = awsdata.enum_values(shape, service)
    if instance in values:
        return
    if shape.endswith("InstanceType"):
        kind = {
            "ProductionVariantInstanceType": "SageMaker hosting",
            "TransformInstanceType": "SageMaker batch transform",
            "ProcessingInstanceType": "SageMaker processing",
            "TrainingInstanceType": "SageMaker training",
        }.get(shape, "SageMaker")
        hint = did_you_mean(
            instance, values, f"see `{service}` {shape} in botocore for the {len(values)} types"
        )
        yield problem("instance-type", f"{instance!r} is not a {kind} instance type", hint)
        return
    allowed = [*values, *([""] if spec.get("allow_empty") else [])]
    yield problem(
        "enum", f"{instance!r} is not an allowed value", did_you_mean(instance, values, one_of(allowed))
    )


def s3(validator: Any, kind: str, instance: Any, schema: dict[str, Any]):
    if not isinstance(instance, str) or (instance == "" and kind != "bucket"):
        return
    try:
        if kind == "bucket":
            found = (
                bucket_problem(instance)
                if instance
                else ("the bucket name is empty", "remove the key to get the default name")
            )
            if found:
                yield problem("s3-bucket", *found)
        elif kind == "asset":
            parse_asset(instance)
        else:
            parse_location(instance)
    except S3Error as exc:
        yield problem("s3-location", exc.message, exc.hint)


def arn(validator: Any, spec: dict[str, Any], instance: Any, schema: dict[str, Any]):
    if not isinstance(instance, str):
        return
    if instance == "" and spec.get("allow_empty"):
        return
    if spec.get("allow_name") and not instance.startswith("arn:"):
        if not _GROUP_NAME.fullmatch(instance):
            yield problem(
                "arn",
                f"{instance!r} is neither an ARN nor a model package group name",
                "write a model-package version ARN (…:model-package/<group>/<version>) or a group name",
            )
        return
    try:
        parse_arn(instance, spec["service"], spec["resources"])
    except ArnError as exc:
        yield problem("arn", exc.message, exc.hint)


def schedule(validator: Any, kind: str, instance: Any, schema: dict[str, Any]):
    if not isinstance(instance, str):
        return
    monitor = (CURRENT_PIPELINE_TYPE.get() or "").endswith("_monitor")
    try:
        check_schedule(instance, allow_rate=kind == "cron-or-rate", monitor=monitor)
    except ScheduleError as exc:
        yield problem("schedule", exc.message, exc.hint)


def fmt(validator: Any, kind: str, instance: Any, schema: dict[str, Any]):
    if not isinstance(instance, str):
        return
    if kind == "aws-region":
        if awsdata.partition_of_region(instance) is None:
            hint = did_you_mean(instance, awsdata.known_regions(), "e.g. us-east-1")
            yield problem(
                "region",
                f"{instance!r} is not an AWS region (or one newer than the installed botocore)",
                hint,
            )
    elif kind == "email-or-sns-arn":
        if instance.startswith("arn:"):
            try:
                parse_arn(instance, "sns", ["topic"])
            except ArnError as exc:
                yield problem("arn", exc.message, exc.hint)
        elif not _EMAIL.fullmatch(instance) or len(instance) > 254:
            yield problem("notify", *_notify_problem(instance))
    elif kind == "ecr-image-uri":
        yield from _ecr_uri(instance)


def _notify_problem(instance: str) -> tuple[str, str]:
    """(message, hint) for a ``notify`` entry that is neither an e-mail address nor a topic ARN."""
    lowered = instance.lower()
    if lowered.startswith(("https://", "http://")):
        # https://docs.aws.amazon.com/chatbot/latest/adminguide/what-is.html
        what = "a Slack webhook URL" if "hooks.slack.com" in lowered else "a URL"
        return (
            f"{instance!r} is {what}; notify takes e-mail addresses and SNS topic ARNs",
            "use an SNS topic with AWS Chatbot (Slack, Microsoft Teams, Chime) and list the topic's ARN",
        )
    if "@" in instance:
        return (
            f"{instance!r} is not an e-mail address SNS can subscribe",
            "write one address, name@domain.tld, without spaces, quotes, commas or a display name",
        )
    return (
        f"{instance!r} is neither an e-mail address nor an SNS topic ARN",
        "e.g. team@example.com or arn:aws:sns:us-east-1:111122223333:team-alerts",
    )


def _ecr_uri(instance: str):
    m = _ECR_URI.fullmatch(instance)
    if not m:
        yield problem(
            "image-uri",
            f"{instance!r} is not an ECR image URI",
            "write <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>, "
            "e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com/churn:1.0",
        )
        return
    if awsdata.partition_of_region(m["region"]) is None:
        best = closest(m["region"], awsdata.known_regions())
        yield problem(
            "image-uri",
            f"{m['region']!r} in the image URI is not an AWS region",
            f"did you mean {best!r}?" if best else "e.g. us-east-1",
        )
    if not m["ref"]:
        yield problem(
            "image-uri",
            f"{instance!r} has no tag or digest, so it means ':latest' and changes under you",
            "pin a tag or a digest, e.g. ...:1.0 or ...@sha256:<digest>",
            severity="warning",
        )
