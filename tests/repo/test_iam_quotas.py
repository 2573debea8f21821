"""Every IAM document of every template within IAM's size quotas, for every config validate accepts.

IAM refuses, at create or update time, a role whose documents are too large; moto checks none of
it. Quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html, "IAM and
STS character limits" and "IAM object quotas"):

- role inline policies, all of them together: 10,240 characters;
- a customer managed policy: 6,144 characters (a permissions boundary is one);
- a role trust policy: 2,048 characters (default; adjustable by a quota request);
- managed policies attached to a role: 10 (default; adjustable by a quota request).

How IAM counts (same page): white space does not count towards these limits. We measure the
evaluated document as compact JSON (no white space between tokens); white space inside strings is
counted, which can only overestimate. Fn::Sub values are substituted, as CloudFormation sends the
document already resolved.

Assumptions, each choosing the LARGER document so that the check holds for every accepted config:
- the longest pseudo values: partition ``aws-us-gov`` (10 characters, the longest partition name)
  with a 14-character region (``ap-southeast-2``; no region name is longer), URL suffix
  ``amazonaws.com.cn``, 12-digit accounts;
- StackPrefix at its MaxLength (20, environments.schema.json's stack_prefix too); every other
  parameter at the longest value its AllowedPattern/MaxLength accepts among long samples of its form
  (names as long as the pattern's quantifiers allow - NamePrefix 51, stage names 16; s3:// URIs with
  a 63-character bucket and a 1,024-byte key; KMS aliases of 256 characters; SNS topics of 256;
  role ARNs with 64-character names and no path, as environments.json names them). A pipeline
  template is measured once per rendered golden config (tests/golden/render: every pipeline type and
  stage), each value the config sets made longest; parameters with AllowedValues keep the config's
  choice (the Fn::If rule below covers what they switch). This bounds what validate accepts, since the
  templates' own patterns are at least as wide as validate's rules;
- every Fn::If takes its LONGER branch and every conditional resource counts as created (an upper
  bound: branches that exclude each other may both be counted, which only overestimates);
- a Ref/GetAtt of a resource becomes its ARN with the name the template gives it, or, when
  CloudFormation generates the name, <stack>-<logical id>-<13 random characters> cut to the
  service's maximum (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mlops_gitops.cfn_eval import NO_VALUE, EvalError, Evaluator, parameter_values
from mlops_gitops.core.templates import _parse
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.repo

QUOTAS_URL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
ROLE_INLINE_MAX = 10_240
MANAGED_POLICY_MAX = 6_144
TRUST_POLICY_MAX = 2_048
ATTACHED_PER_ROLE_MAX = 10

PARTITION, REGION, ACCOUNT, ORCH = "aws-us-gov", "ap-southeast-2", "111111111111", "222222222222"
PREFIX = "p" * 20  # StackPrefix MaxLength 20
CFN = REPO_ROOT / "cloudformation"
BOOTSTRAP = sorted(CFN.glob("*.yaml"))
PIPELINES = sorted((CFN / "pipelines").glob("*.yaml"))
GOLDEN = sorted((REPO_ROOT / "tests" / "golden" / "render").glob("*.json"))

# The bootstrap templates' required parameters, at their longest.
LONG_ROLE = f"arn:{PARTITION}:iam::{ORCH}:role/{'r' * 64}"
BOOTSTRAP_PARAMS = {
    "StackPrefix": PREFIX,
    "OrchestratorAccountId": ORCH,
    "DeployBuildRoleArns": ",".join([LONG_ROLE] * 3),  # one per stage: three stages at most
    "ReviewBuildRoleArns": ",".join([LONG_ROLE] * 2),
    "TargetReviewRoleArns": ",".join([LONG_ROLE] * 3),  # orchestrator: a review role per stage
    "CodeBucket": "b" * 63,
    "CodeKey": f"lambda/provisioning-api-{'0' * 16}.zip",
}

# (service, ARN resource part, name property, name max) of what our policies reference:
# a Ref/GetAtt of these becomes this ARN.
ARNS: dict[str, tuple[str, str, str, int]] = {
    "AWS::S3::Bucket": ("s3", "{name}", "BucketName", 63),
    "AWS::IAM::Role": ("iam", "role/{name}", "RoleName", 64),
    "AWS::IAM::ManagedPolicy": ("iam", "policy/{name}", "ManagedPolicyName", 128),
    "AWS::Logs::LogGroup": ("logs", "log-group:{name}:*", "LogGroupName", 512),
    "AWS::SNS::Topic": ("sns", "{name}", "TopicName", 256),
    "AWS::SQS::Queue": ("sqs", "{name}", "QueueName", 80),
    "AWS::StepFunctions::StateMachine": ("states", "stateMachine:{name}", "StateMachineName", 80),
    "AWS::KMS::Key": ("kms", "key/{name}", "", 36),  # a key id is a UUID
    "AWS::DynamoDB::Table": ("dynamodb", "table/{name}", "TableName", 255),
    "AWS::Kinesis::Stream": ("kinesis", "stream/{name}", "Name", 128),
    "AWS::ECR::Repository": ("ecr", "repository/{name}", "RepositoryName", 256),
}
REF_IS_ARN = ("AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine")
GLOBAL_SERVICES = ("s3", "iam")  # no region and (s3) no account in their ARNs


class LongestEvaluator(Evaluator):
    """The Evaluator with every Fn::If on its longer branch and resources as their longest ARNs."""

    def __init__(self, body: dict, params: dict, stack: str) -> None:
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com.cn",
            "AWS::StackName": stack,
        }
        super().__init__(body, params, pseudo, self._arn)
        self.stack = stack

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::If":
            branches = []
            for branch in arg[1:]:
                try:
                    branches.append(self(branch))
                except (IndexError, EvalError):  # a branch these parameters can't take
                    continue
            return max(branches, key=lambda v: 0 if v is NO_VALUE else size(v))
        return super()._function(key, arg)

    def _name(self, logical_id: str, prop: str, limit: int) -> str:
        props = self.body["Resources"][logical_id].get("Properties") or {}
        if prop and prop in props:
            name = self(props[prop])
            if name is not NO_VALUE and name != "":
                return str(name)
        return f"{self.stack}-{logical_id}-{'X' * 13}"[:limit]

    def _arn(self, logical_id: str, attr: str | None) -> str:
        kind = self.body["Resources"][logical_id]["Type"]
        if kind == "AWS::SageMaker::Endpoint" and attr == "EndpointName":
            return self._name(logical_id, "EndpointName", 63)
        if kind not in ARNS:
            return f"<{logical_id}{'.' + attr if attr else ''}>"
        service, pattern, prop, limit = ARNS[kind]
        if kind == "AWS::KMS::Key":
            name = "k" * limit
        else:
            name = self._name(logical_id, prop, limit)
        if attr is None and kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com.cn/{ACCOUNT}/{name}"
        if attr is None and kind not in REF_IS_ARN:
            return name  # Ref gives the name (the key id of a key)
        if kind == "AWS::IAM::ManagedPolicy":
            name = self(self.body["Resources"][logical_id]["Properties"].get("Path", "/")).lstrip("/") + name
        region = "" if service in GLOBAL_SERVICES else REGION
        account = "" if service == "s3" else ACCOUNT
        return f"arn:{PARTITION}:{service}:{region}:{account}:{pattern.format(name=name)}"


def size(document: Any) -> int:
    """Characters IAM counts: the compact JSON (white space inside strings kept: an upper bound)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def _samples() -> list[str]:
    """Long values of the forms our parameters take, for _longest to try against each pattern."""
    arn = f"arn:{PARTITION}"
    uuid = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    return [
        f"s3://{'b' * 63}/{'k' * 1024}",  # S3 keys: 1,024 bytes at most
        f"{arn}:kms:{REGION}:{ACCOUNT}:alias/{'a' * 250}",  # alias names: 256 with "alias/"
        f"{arn}:kms:{REGION}:{ACCOUNT}:key/{uuid}",
        f"{arn}:sns:{REGION}:{ACCOUNT}:{'t' * 256}",
        f"{arn}:secretsmanager:{REGION}:{ACCOUNT}:secret:{'s' * 512}-AbCdEf",
        f"{arn}:iam::{ACCOUNT}:role/{'r' * 64}",  # environments.json: names, no path
        f"{arn}:codestar-connections:{REGION}:{ACCOUNT}:connection/{uuid}",
        f"{arn}:codeconnections:{REGION}:{ACCOUNT}:connection/{uuid}",
        f"{arn}:lambda:{REGION}:{ACCOUNT}:layer:{'l' * 140}:99999",
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com.cn/{'r' * 256}:{'t' * 128}",
    ]


def _longest(spec: dict, value: str) -> str:
    """The longest value the parameter's AllowedPattern and MaxLength accept among ``value`` and
    long samples (names: as many characters as the pattern's quantifiers allow). Parameters with
    AllowedValues keep ``value``: Fn::If already takes the longer branch of what they choose."""
    tries = [value, _long_uri(value)]
    pattern = spec.get("AllowedPattern")
    if pattern and "AllowedValues" not in spec and str(spec.get("Type", "String")) == "String":
        counts = {int(n) for n in re.findall(r"\{(?:\d+,)?(\d+)\}", pattern)}
        tries += _samples() + [c * (n + k) for n in counts for k in (0, 1, 2) for c in "a0"]
        limit = int(spec.get("MaxLength", 1 << 20))
        tries = [t for t in tries if t == value or (len(t) <= limit and re.fullmatch(pattern, t))]
    return max(tries, key=len)


def _long_uri(value: str) -> str:
    """s3://bucket/key with the key padded to S3's 1,024-byte limit
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html)."""
    if not value.startswith("s3://"):
        return value
    bucket, _, key = value[5:].partition("/")
    key = (key.rstrip("/") + "/" if key else "") + "k" * 1024
    return f"s3://{bucket}/{key[:1024]}"


def _pipeline_params(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Each rendered golden config of this template, every value the config sets at its longest."""
    specs = _parse(path.read_text())["Parameters"]
    out = []
    for golden in GOLDEN:
        rendered = json.loads(golden.read_text())
        if rendered["template"] != f"cloudformation/pipelines/{path.name}":
            continue
        params = {k: _longest(specs[k], v) for k, v in rendered["parameters"].items()}
        out.append((golden.stem, params))
    return out


def _bootstrap_params(path: Path) -> dict[str, str]:
    specs = _parse(path.read_text()).get("Parameters") or {}
    given = {k: v for k, v in BOOTSTRAP_PARAMS.items() if k in specs}
    return {k: given.get(k) or _longest(spec, str(spec.get("Default", ""))) for k, spec in specs.items()}


def _cases() -> list[tuple[Path, str, dict[str, str]]]:
    cases = [(p, "longest", _bootstrap_params(p)) for p in BOOTSTRAP]
    for path in PIPELINES:
        cases += [(path, label, params) for label, params in _pipeline_params(path)]
    return cases


CASES = _cases()


@cache
def measure(path: Path, label: str) -> list[tuple[str, str, int, int]]:
    """(what, name, size, limit) of every IAM quota this template's documents count against."""
    params = next(p for q, lab, p in CASES if q == path and lab == label)
    body = _parse(path.read_text())
    known = {k: v for k, v in params.items() if k in (body.get("Parameters") or {})}
    stack = known.get("NamePrefix") or f"{PREFIX}-{path.stem}"
    ev = LongestEvaluator(body, parameter_values(body, known), stack)
    resources = body["Resources"]
    evaluated = {
        n: ev(r.get("Properties") or {}) for n, r in resources.items() if r["Type"].startswith("AWS::IAM::")
    }
    roles = [n for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    inline: dict[str, list] = {role: [] for role in roles}
    attached: dict[str, set[str]] = {role: set() for role in roles}
    rows = []
    for name in roles:
        props = evaluated[name]
        inline[name] += [p["PolicyDocument"] for p in props.get("Policies", [])]
        attached[name] |= {json.dumps(a) for a in props.get("ManagedPolicyArns", [])}
        rows.append(("trust policy", name, size(props["AssumeRolePolicyDocument"]), TRUST_POLICY_MAX))
    for name, res in resources.items():
        props = evaluated.get(name)
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            targets = props.get("Roles", []) if res["Type"] == "AWS::IAM::Policy" else [props["RoleName"]]
            for role in roles:
                if ev._arn(role, None) in targets or _named(ev, role) in targets or f"<{role}>" in targets:
                    inline[role].append(props["PolicyDocument"])
        elif res["Type"] == "AWS::IAM::ManagedPolicy":
            rows.append(("managed policy", name, size(props["PolicyDocument"]), MANAGED_POLICY_MAX))
            for role in roles:
                if _named(ev, role) in props.get("Roles", []):
                    attached[role].add(json.dumps(ev._arn(name, None)))
    for role in roles:
        rows.append(("role inline policies", role, sum(size(d) for d in inline[role]), ROLE_INLINE_MAX))
        rows.append(("attached managed policies", role, len(attached[role]), ATTACHED_PER_ROLE_MAX))
    return rows


def _named(ev: LongestEvaluator, role: str) -> str:
    """What Ref of the role gives: its name (CloudFormation's Ref of AWS::IAM::Role)."""
    return ev._name(role, "RoleName", 64)


IDS = [f"{p.relative_to(CFN)}[{label}]" for p, label, _ in CASES]


@pytest.mark.parametrize(("path", "label"), [(p, lab) for p, lab, _ in CASES], ids=IDS)
def test_every_iam_document_is_within_iams_quotas(path: Path, label: str) -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
    over = [
        f"{path.relative_to(CFN)} {what} of {name}: {value} > {limit} ({QUOTAS_URL})"
        for what, name, value, limit in measure(path, label)
        if value > limit
    ]
    assert over == []


def test_every_template_with_iam_resources_is_measured() -> None:
    measured = {p for p, _, _ in CASES}
    for path in BOOTSTRAP + PIPELINES:
        body = _parse(path.read_text())
        if any(r["Type"].startswith("AWS::IAM::") for r in body["Resources"].values()):
            assert path in measured, f"{path.name}: no rendered golden config exercises it"
        # users and groups have quotas of their own (2,048 / 5,120 characters inline) not measured here
        assert not [
            n for n, r in body["Resources"].items() if r["Type"] in ("AWS::IAM::User", "AWS::IAM::Group")
        ]


def test_a_policy_resource_counts_with_the_inline_policies_of_its_role() -> None:
    # AWS::IAM::Policy and AWS::IAM::RolePolicy are inline policies of the roles they name
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-policy.html)
    path = PIPELINES[[p.name for p in PIPELINES].index("data_lake.yaml")]
    label = next(lab for p, lab, _ in CASES if p == path)
    body = _parse(path.read_text())
    inline = {n: v for what, n, v, _ in measure(path, label) if what == "role inline policies"}
    params = next(p for q, _, p in CASES if q == path)
    ev = LongestEvaluator(body, parameter_values(body, params), params["NamePrefix"])
    role = ev(body["Resources"]["CrawlerRole"]["Properties"])
    own = sum(size(p["PolicyDocument"]) for p in role.get("Policies", []))
    extra = size(ev(body["Resources"]["CrawlerLogsPolicy"]["Properties"]["PolicyDocument"]))
    assert inline["CrawlerRole"] == own + extra > own


def test_the_measure_counts_what_iam_counts() -> None:
    # whitespace does not count; Fn::Sub is substituted; Fn::If takes the longer branch
    body = {
        "Parameters": {"P": {"Type": "String", "Default": "abc"}},
        "Conditions": {"C": {"Fn::Equals": ["1", "2"]}},
        "Resources": {},
    }
    ev = LongestEvaluator(body, parameter_values(body, {}), "s")
    doc = ev(
        {"Resource": {"Fn::Sub": "arn:${AWS::Partition}:x:::${P}"}, "Other": {"Fn::If": ["C", "a", "bbbb"]}}
    )
    assert doc == {"Resource": "arn:aws-us-gov:x:::abc", "Other": "bbbb"}
    assert size({"A": ["b", "c"]}) == len('{"A":["b","c"]}')


def test_margins_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The smallest margin of each quota per template, printed (capture off for it) for the report."""
    worst: dict[tuple[str, str, str], tuple[int, int]] = {}
    for path, label, _ in CASES:
        for what, name, value, limit in measure(path, label):
            key = (str(path.relative_to(CFN)), what, name)
            if key not in worst or value > worst[key][0]:
                worst[key] = (value, limit)
    lines = [f"{'template':40} {'quota':26} {'resource':26} {'size':>6} {'limit':>6} {'margin':>6}"]
    for (tpl, what, name), (value, limit) in sorted(worst.items()):
        lines.append(f"{tpl:40} {what:26} {name:26} {value:6} {limit:6} {limit - value:6}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert worst


# ------------------------------------------------------------------ the execution role's split policies

SPLIT = ("CfnExecutionGuardsPolicy", "CfnExecutionHandlersPolicy")  # target-account.yaml


def test_the_execution_roles_managed_policies_are_changed_by_no_role_of_ours() -> None:
    # A managed policy is changed by a new default version (iam:CreatePolicyVersion,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_manage-versioning.html) or by
    # detaching it from the role. The execution role meets an explicit Deny (its guards, which are in
    # one of these policies and cover them: policy/<prefix>-cfn-exec-*); a pipeline role's boundary
    # allows no iam:* action; deploy's and review's roles are granted none.
    from tests.repo.iam_eval import DENY, allowed, decide
    from tests.repo.test_iam_policies import ACCOUNT, _sub_account, exec_role, role_statements, target

    template = target()
    _, ev = template
    boundary = _sub_account(
        ev.resource("PipelineBoundary")["Properties"]["PolicyDocument"]["Statement"], ACCOUNT
    )
    others = {
        r: role_statements(template, r, ACCOUNT) for r in ("DeployRole", "ReviewRole", "CfnPreviewRole")
    }
    role = f"arn:aws:iam::{ACCOUNT}:role/{ev.resource('CfnExecutionRole')['Properties']['RoleName']}"
    for name in SPLIT:
        props = ev.resource(name)["Properties"]
        assert props["Roles"] == ["<CfnExecutionRole>"]
        policy = f"arn:aws:iam::{ACCOUNT}:policy/{props['ManagedPolicyName']}"
        assert props["ManagedPolicyName"].startswith("mlops-cfn-exec-"), "named under the guarded prefix"
        writes = {
            a: policy
            for a in (
                "iam:CreatePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:DeletePolicyVersion",
                "iam:DeletePolicy",
                "iam:TagPolicy",
            )
        }
        writes |= {"iam:DetachRolePolicy": role, "iam:DeleteRolePolicy": role}
        for action, resource in writes.items():
            assert decide(exec_role(), action, resource) == DENY, (name, action)
            assert not allowed(boundary, action, resource), (name, action)
            for other, sts in others.items():
                assert not allowed(sts, action, resource), (other, name, action)


def test_what_publishes_the_execution_role_waits_for_its_managed_policies() -> None:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html:
    # a Ref/GetAtt orders a resource after the role, not after policies attached to it.
    body = _parse((CFN / "target-account.yaml").read_text())
    for name, res in body["Resources"].items():
        if name in SPLIT or "CfnExecutionRole" not in json.dumps(res.get("Properties", {})):
            continue
        depends = res.get("DependsOn", [])
        assert set(SPLIT) <= set([depends] if isinstance(depends, str) else depends), name
