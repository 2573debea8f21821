"""What CloudFormation's resource handlers call, and on which resource (tests only).

Two facts cfn-lint ships, neither written by hand here:
- the resource-provider schemas (data/schemas/providers/<region>.json maps a type name to
  data/schemas/resources/<hash>.json), whose handlers.<create|read|update|delete>.permissions list the
  IAM actions each handler calls
  (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html#schema-properties-handlers);
- the Service Authorization Reference as data (data/AdditionalSpecs/Policies.json): for each action the
  resource types it supports, and their ARN formats. An action with no resource type has no
  resource-level permissions: a policy grants it only on "*"
  (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import cfnlint

DATA = Path(cfnlint.__file__).parent / "data"


@cache
def _schema(type_name: str, region: str = "us-east-1") -> dict:
    providers = json.loads((DATA / "schemas" / "providers" / f"{region}.json").read_text())
    return json.loads((DATA / "schemas" / "resources" / f"{providers[type_name]}.json").read_text())


def handler_actions(types: Iterable[str], handlers: Iterable[str]) -> dict[str, set[str]]:
    """action -> the resource types whose listed handlers call it."""
    found: dict[str, set[str]] = {}
    for type_name in types:
        declared = _schema(type_name).get("handlers", {})
        for handler in handlers:
            for action in declared.get(handler, {}).get("permissions", []):
                found.setdefault(action, set()).add(type_name)
    return found


@cache
def _policies() -> dict:
    return json.loads((DATA / "AdditionalSpecs" / "Policies.json").read_text())


def resource_types_of(action: str) -> list[str] | None:
    """The resource types an action supports; [] when it has no resource-level permissions; None
    when the Service Authorization Reference does not know the action."""
    service, _, name = action.partition(":")
    known = _policies().get(service, {}).get("Actions", {}).get(name.lower())
    return None if known is None else list(known.get("Resources", []))


def arn_touched(action: str, type_name: str, *, account: str, region: str, name: str) -> str:
    """The resource a handler of `type_name` acts on with this action: "*" for an account-wide
    action; else an ARN of the action's resource type that is the CloudFormation type itself
    (AWS::S3::Bucket -> bucket), or failing that its plainest one (s3:GetObject -> object, not an
    access point's object), with every name part set to `name` (our stacks' names start with the
    stack name)."""
    types = resource_types_of(action)
    if not types:
        return "*"
    service = action.partition(":")[0]
    formats = {k.lower(): v["ARNFormats"][0] for k, v in _policies()[service]["Resources"].items()}
    own = type_name.rsplit("::", 1)[-1].lower()
    candidates = [formats[t.lower()] for t in types if t.lower().replace(" ", "") == own]
    arn = candidates[0] if candidates else min((formats[t.lower()] for t in types), key=len)
    arn = arn.replace("${Partition}", "aws").replace("${Region}", region).replace("${Account}", account)
    return re.sub(r"\$\{[^}]+\}|\.\*|\*", name, arn)
