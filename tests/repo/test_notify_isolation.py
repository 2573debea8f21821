"""No pipeline stack's job-outcome rules hear another pipeline's jobs (issue 19): every pair of example
training and batch stacks, plus the configs that reuse another's job name prefix (a job_name equal to
another stack's prefix, two tuning ids that share their first 23 characters, job_name "pipelines").
A job of stack B — whatever B names it — runs under B's job role (training, tuning) or B's model
(batch), which stack A's rules do not match; and no role of B may pass A's job role, so B can't run a
job under it. The events are SageMaker's "Training Job State Change", "HyperParameter Tuning Job State
Change" and "Transform Job State Change"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html); iam:PassRole
as https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html describes it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render
from mlops_gitops.core.templates import load_template, template_name
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.repo.eventbridge import matches
from tests.repo.iam_eval import allowed, as_list

pytestmark = pytest.mark.repo

ACCOUNT, REGION = "123456789012", "us-east-1"
JOB_TEMPLATES = ("model_training.yaml", "batch_inference.yaml")
STATUSES = ("Completed", "Failed", "Stopped")


@dataclass
class Stack:
    label: str
    template: str
    params: dict[str, str]
    ev: Evaluator

    @property
    def name(self) -> str:
        return self.params["NamePrefix"]

    def role_arn(self, logical_id: str) -> str:
        return _role_arn(self.name, logical_id)


def _role_arn(stack: str, logical_id: str) -> str:
    """The ARN CloudFormation gives a role without a RoleName: <stack>-<logical id>-<suffix>."""
    return f"arn:aws:iam::{ACCOUNT}:role/{stack}-{logical_id}-1A2B3C4D5E6F"


def _stack(label: str, template: str, params: dict[str, str]) -> Stack:
    body = load_template(REPO_ROOT, template).body
    given = {k: v if isinstance(v, str) else str(v) for k, v in params.items() if k in body["Parameters"]}
    for key, spec in body["Parameters"].items():
        if "Default" not in spec and key not in given:
            given[key] = spec["AllowedValues"][0] if "AllowedValues" in spec else "x"
    stack = given["NamePrefix"]

    def resources(r: str, attribute: str | None) -> str:
        if attribute == "Arn" and body["Resources"][r]["Type"] == "AWS::IAM::Role":
            return _role_arn(stack, r)
        if attribute == "ModelName":
            return ev(body["Resources"][r]["Properties"]["ModelName"])
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{stack}-notify" if r == "NotifyTopic" else f"<{stack}:{r}>"

    ev = Evaluator(
        body,
        parameter_values(body, given),
        pseudo={
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/x",
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
        },
        resources=resources,
    )
    return Stack(label, template, given, ev)


def _stacks() -> list[Stack]:
    """Each example config of a job template (every stage), and the attackers' configs."""
    out: list[Stack] = []
    validator = Validator(Repo(REPO_ROOT))
    env = validator.environments()
    for path in Repo(REPO_ROOT).config_files():
        cfg, _ = validator.check_config(path, env)
        if cfg is None or template_name(REPO_ROOT, cfg.pipeline_type) not in JOB_TEMPLATES:
            continue
        for stage in cfg.stages:
            spec = render(REPO_ROOT, cfg, stage, env, commit="0" * 40)
            template = template_name(REPO_ROOT, cfg.pipeline_type)
            out.append(_stack(f"{cfg.pipeline_id}/{stage}", template, dict(spec.parameters)))
    training = [s for s in out if s.template == "model_training.yaml"]
    victim = next(s for s in training if s.params["JobKind"] == "Training")
    tuning = next(s for s in training if s.params["JobKind"] == "Tuning")
    base = dict(victim.params)
    # a job_name equal to another stack's prefix; job_name "pipelines" (SageMaker Pipelines' jobs)
    out.append(
        _stack(
            "evil-train",
            "model_training.yaml",
            {**base, "NamePrefix": "mlops-evil-train-dev", "JobNamePrefix": victim.params["JobNamePrefix"]},
        )
    )
    out.append(
        _stack(
            "pipelines",
            "model_training.yaml",
            {**base, "NamePrefix": "mlops-pipes-dev", "JobNamePrefix": "pipelines"},
        )
    )
    # two tuning ids sharing their first 23 characters: the same cut prefix
    for suffix in ("v1", "v2"):
        out.append(
            _stack(
                f"customer-churn-tuning-{suffix}",
                "model_training.yaml",
                {
                    **tuning.params,
                    "NamePrefix": f"mlops-customer-churn-tuning-{suffix}-dev",
                    "JobNamePrefix": "mlops-customer-churn-tu",
                },
            )
        )
    return out


STACKS = _stacks()


def _rules(stack: Stack) -> list[dict]:
    return [
        stack.ev.resource(r)["Properties"]
        for r, res in stack.ev.body["Resources"].items()
        if res["Type"] == "AWS::Events::Rule" and "aws.sagemaker" in str(res) and stack.ev.present(r)
    ]


def _job_events(stack: Stack, names: list[str]) -> list[dict]:
    """The outcome events of jobs stack runs (under its role or with its model), by each name."""
    p = stack.params
    out = []
    for name, status in itertools.product(names, STATUSES):
        if stack.template == "batch_inference.yaml":
            model = stack.ev.resource("Model")["Properties"]["ModelName"]
            dt, detail = (
                "SageMaker Transform Job State Change",
                {
                    "TransformJobName": name,
                    "TransformJobStatus": status,
                    "ModelName": model,
                },
            )
        elif p["JobKind"] == "Training":
            dt, detail = (
                "SageMaker Training Job State Change",
                {
                    "TrainingJobName": name,
                    "TrainingJobStatus": status,
                    "RoleArn": stack.role_arn("JobRole"),
                },
            )
        else:  # tuning (and Autopilot's tuning jobs, under its job role)
            dt, detail = (
                "SageMaker HyperParameter Tuning Job State Change",
                {
                    "HyperParameterTuningJobName": name,
                    "HyperParameterTuningJobStatus": status,
                    "TrainingJobDefinition": {"RoleArn": stack.role_arn("JobRole")},
                },
            )
        if status == "Failed":
            detail["FailureReason"] = "forged"
        out.append(
            {
                "version": "0",
                "id": "1",
                "detail-type": dt,
                "source": "aws.sagemaker",
                "account": ACCOUNT,
                "time": "2026-12-03T17:00:00Z",
                "region": REGION,
                "resources": [],
                "detail": detail,
            }
        )
    return out


def _names(stack: Stack, other: Stack) -> list[str]:
    """Its own job names and the names the other stack's rules listen for."""
    own = stack.params.get("JobNamePrefix") or stack.name
    theirs = other.params.get("JobNamePrefix") or other.name
    return [f"{own}-deadbeef", f"{theirs}-0badc0de", f"{other.name}-0badc0de"]


def test_the_pairs_cover_the_attacks() -> None:
    labels = {s.label for s in STACKS}
    assert {"evil-train", "pipelines", "customer-churn-tuning-v1", "customer-churn-tuning-v2"} <= labels
    assert {s.template for s in STACKS} == set(JOB_TEMPLATES)
    assert all(
        _rules(s)
        for s in STACKS
        if s.template == "batch_inference.yaml" or s.params["JobKind"] != "Autopilot"
    )


@pytest.mark.parametrize("victim", STACKS, ids=[s.label for s in STACKS])
def test_no_rule_of_a_stack_matches_another_stacks_jobs(victim: Stack) -> None:
    rules = _rules(victim)
    for attacker in STACKS:
        if attacker.name == victim.name:
            continue
        for event in _job_events(attacker, _names(attacker, victim)):
            for rule in rules:
                assert not matches(rule["EventPattern"], event), (
                    rule["Name"],
                    attacker.label,
                    event["detail"],
                )
    # and its own jobs it does hear
    if rules:
        heard = [
            e
            for e in _job_events(victim, _names(victim, victim))
            if any(matches(r["EventPattern"], e) for r in rules)
        ]
        assert heard


def _statements(stack: Stack, role: str) -> list[dict]:
    """Every identity-policy statement of role (inline, and AWS::IAM::Policy attached to it)."""
    out = []
    for r, res in stack.ev.body["Resources"].items():
        if not stack.ev.present(r):
            continue
        if r == role:
            for policy in stack.ev.resource(r)["Properties"].get("Policies", []):
                out += as_list(policy["PolicyDocument"]["Statement"])
        elif res["Type"] == "AWS::IAM::Policy":
            props = stack.ev.resource(r)["Properties"]
            if {"Ref": role} in res["Properties"]["Roles"]:
                out += as_list(props["PolicyDocument"]["Statement"])
    return [s for s in out if isinstance(s, dict)]


@pytest.mark.parametrize("attacker", STACKS, ids=[s.label for s in STACKS])
def test_no_role_of_a_stack_may_pass_another_stacks_job_or_model_role(attacker: Stack) -> None:
    """Each role's own policy passes its stack's roles only (the permissions boundary allows passing
    any <prefix>-* role, so the identity policy is what keeps stacks apart)."""
    roles = [
        r
        for r, res in attacker.ev.body["Resources"].items()
        if res["Type"] == "AWS::IAM::Role" and attacker.ev.present(r)
    ]
    context = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    for victim in STACKS:
        if victim.name == attacker.name:
            continue
        for target in ("JobRole", "ModelRole"):
            if target not in victim.ev.body["Resources"]:
                continue
            arn = victim.role_arn(target)
            for role in roles:
                assert not allowed(_statements(attacker, role), "iam:PassRole", arn, context), (
                    attacker.label,
                    role,
                    victim.label,
                    target,
                )
