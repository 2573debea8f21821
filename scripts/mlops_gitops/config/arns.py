"""ARN parsing with partition, region, account and resource-type checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlops_gitops import awsdata
from mlops_gitops.suggest import did_you_mean

# What no ARN's resource part holds, and what would break the JSON a template builds around it.
_UNSAFE = re.compile(r'["\\\s\x00-\x1f\x7f]')
# The resource part's shape where the templates (and the service) require one.
_GROUP = r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}"
_SHAPES = {
    ("secretsmanager", "secret"): (
        re.compile(r"[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}"),
        "a secret's full ARN ends with its name, '-' and 6 random characters",
    ),
    ("sagemaker", "model-package"): (
        re.compile(_GROUP + r"(?:/[0-9]+)?"),
        "model-package/<group>/<version>, the group of letters, digits and '-'",
    ),
    ("sagemaker", "model-package-group"): (re.compile(_GROUP), "letters, digits and '-', up to 63"),
}
_ACCOUNT = re.compile(r"[0-9]{12}")  # fullmatch: no trailing newline; ASCII digits


class ArnError(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource_type: str
    resource: str  # everything after the resource type and its separator

    @property
    def text(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource_type}/{self.resource}"


def parse_arn(value: str, service: str, resource_types: list[str]) -> Arn:
    example = _example(service, resource_types[0])
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ArnError(
            f"{value!r} is not an ARN",
            f"write arn:<partition>:{service}:<region>:<account>:..., e.g. {example}",
        )
    _, partition, svc, region, account, resource = parts
    if partition not in awsdata.partitions():
        raise ArnError(
            f"{partition!r} in {value!r} is not an AWS partition", f"use one of {awsdata.partitions()}"
        )
    if svc != service:
        raise ArnError(f"{value!r} is a {svc or '(no service)'} ARN, not a {service} ARN", f"e.g. {example}")
    region_partition = awsdata.partition_of_region(region) if region else None
    if region_partition is None:
        hint = did_you_mean(region, awsdata.known_regions(), "e.g. us-east-1")
        raise ArnError(f"{region!r} in {value!r} is not an AWS region", hint)
    if region_partition != partition:
        raise ArnError(
            f"region {region!r} belongs to partition {region_partition!r}, not {partition!r}",
            f"write arn:{region_partition}:{service}:{region}:...",
        )
    if not _ACCOUNT.fullmatch(account):
        raise ArnError(
            f"account {account!r} in {value!r} is not 12 digits",
            "copy the ARN again; account ids have exactly 12 digits",
        )
    if _UNSAFE.search(resource):
        raise ArnError(
            f"the resource part of the {service} ARN holds a quote, backslash, space or control character",
            f"copy the ARN again, e.g. {example}",
        )
    sep = ":" if service in ("secretsmanager",) else "/"
    rtype, found, rest = resource.partition(sep)
    if service == "sns":  # topic ARNs have no resource type: arn:aws:sns:region:acct:topic
        rtype, found, rest = "topic", True, resource
    if not found or rtype not in resource_types or not rest:
        wanted = " or ".join(f"{t}{sep}..." for t in resource_types)
        raise ArnError(
            f"{value!r} does not name a {' or '.join(resource_types)}",
            f"the resource part must be {wanted}, e.g. {example}",
        )
    shape = _SHAPES.get((service, rtype))
    if shape is not None and not shape[0].fullmatch(rest):
        raise ArnError(
            f"{value!r} does not name a {rtype}: {shape[1]}", f"copy the ARN again, e.g. {example}"
        )
    return Arn(partition, service, region, account, rtype, rest)


def _example(service: str, rtype: str) -> str:
    examples = {
        ("kms", "key"): "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ("sagemaker", "model-package"): "arn:aws:sagemaker:us-east-1:111122223333:model-package/churn/3",
        ("secretsmanager", "secret"): "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-creds-AbCdEf",
        ("sns", "topic"): "arn:aws:sns:us-east-1:111122223333:mlops-alerts",
    }
    return examples.get((service, rtype), f"arn:aws:{service}:us-east-1:111122223333:{rtype}/name")
