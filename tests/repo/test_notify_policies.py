"""Who may publish to a pipeline's notify topic (issue 19), evaluated as IAM evaluates policies
(tests/repo/iam_eval.py, over the templates as CloudFormation would resolve them):

* a stage's deploy build (and a stage account's deploy role) publishes only to the notify topics of
  that stage's pipeline stacks, ``<prefix>-<pipeline id>-<stage>-notify`` - no other topic;
* the pull-request and drift builds and the stage accounts' review role publish nothing (DESIGN §9:
  pull-request code never runs with write credentials);
* the topic's own policy lets CloudWatch alarms and EventBridge rules of its account publish, and
  no other account's (aws:SourceAccount, the confused-deputy guard:
  https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html)."""

from __future__ import annotations

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import load_template
from tests.conftest import REPO_ROOT
from tests.repo.iam_eval import DENY, allowed, as_list, decide
from tests.repo.test_iam_policies import ACCOUNT, ORCH, REGION, orchestrator, role_statements, target

pytestmark = pytest.mark.repo


def topic(account: str, name: str) -> str:
    return f"arn:aws:sns:{REGION}:{account}:{name}"


STAGES = [(1, "dev"), (2, "staging"), (3, "prod")]


@pytest.mark.parametrize(("slot", "stage"), STAGES, ids=[s for _, s in STAGES])
def test_a_stage_deploy_build_publishes_only_to_its_own_stages_notify_topics(slot: int, stage: str) -> None:
    build = role_statements(orchestrator(), f"Stage{slot}DeployBuildRole", ORCH)
    assert allowed(build, "sns:Publish", topic(ORCH, f"mlops-fraud-ab-{stage}-notify"))
    for other in {s for _, s in STAGES} - {stage}:
        assert not allowed(build, "sns:Publish", topic(ORCH, f"mlops-fraud-ab-{other}-notify")), other
    for name in ("mlops-notifications", "team-alerts", f"mlops-fraud-ab-{stage}-image-build"):
        assert not allowed(build, "sns:Publish", topic(ORCH, name)), name
    assert not allowed(build, "sns:Publish", topic(ACCOUNT, f"mlops-fraud-ab-{stage}-notify"))
    for action in ("sns:Subscribe", "sns:SetTopicAttributes", "sns:DeleteTopic"):
        assert not allowed(build, action, topic(ORCH, f"mlops-fraud-ab-{stage}-notify")), action


def test_a_remote_stages_deploy_build_publishes_through_its_accounts_deploy_role_only() -> None:
    remote = {"Stage3DeployRoleArn": f"arn:aws:iam::{ACCOUNT}:role/mlops-deploy"}
    build = role_statements(orchestrator(**remote), "Stage3DeployBuildRole", ORCH)
    assert not allowed(build, "sns:Publish", topic(ORCH, "mlops-fraud-ab-prod-notify"))
    deploy = role_statements(target(), "DeployRole", ACCOUNT)
    assert allowed(deploy, "sns:Publish", topic(ACCOUNT, "mlops-fraud-ab-prod-notify"))
    assert not allowed(deploy, "sns:Publish", topic(ACCOUNT, "team-alerts"))
    assert not allowed(deploy, "sns:Publish", topic(ORCH, "mlops-fraud-ab-prod-notify"))


@pytest.mark.parametrize(
    ("kind", "role", "account"),
    [
        ("orchestrator", "PrCheckBuildRole", ORCH),
        ("orchestrator", "DriftBuildRole", ORCH),
        ("target", "ReviewRole", ACCOUNT),
    ],
)
def test_review_roles_publish_nothing(kind: str, role: str, account: str) -> None:
    sts = role_statements(orchestrator() if kind == "orchestrator" else target(), role, account)
    for name in ("mlops-fraud-ab-dev-notify", "mlops-fraud-ab-prod-notify", "mlops-notifications"):
        assert not allowed(sts, "sns:Publish", topic(account, name)), (role, name)


def _topic_policy(account: str) -> list[dict]:
    body = load_template(REPO_ROOT, "realtime_inference.yaml").body
    required = {p: "x" for p, spec in body["Parameters"].items() if "Default" not in spec}
    ev = Evaluator(
        body,
        parameter_values(body, {**required, "NamePrefix": "mlops-fraud-ab-prod"}),
        pseudo={"AWS::AccountId": account},
        resources=lambda name, attr: topic(account, "mlops-fraud-ab-prod-notify"),
    )
    return ev.resource("NotifyTopicPolicy")["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("service", ["cloudwatch.amazonaws.com", "events.amazonaws.com"])
def test_the_topic_takes_alarms_and_rules_of_its_own_account_only(service: str) -> None:
    statements = _topic_policy(ACCOUNT)
    arn = topic(ACCOUNT, "mlops-fraud-ab-prod-notify")
    tls = {"aws:SecureTransport": "true", "aws:PrincipalServiceName": service}
    source = {  # what each service names as aws:SourceArn: the stack's own alarm or rule
        "cloudwatch.amazonaws.com": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:mlops-fraud-ab-prod-5xx",
        "events.amazonaws.com": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/mlops-fraud-ab-prod-outcome",
    }[service]
    ours = {**tls, "aws:SourceAccount": ACCOUNT, "aws:SourceArn": source}
    assert _service_allowed(statements, service, arn, ours)
    assert not _service_allowed(statements, service, arn, {**ours, "aws:SourceAccount": "999999999999"})
    # another pipeline's alarm or rule in the same account can't write to these owners
    other = source.replace("mlops-fraud-ab-prod-", "mlops-churn-prod-")
    assert not _service_allowed(statements, service, arn, {**ours, "aws:SourceArn": other})
    assert decide(statements, "sns:Publish", arn, {**ours, "aws:SecureTransport": "false"}) == DENY


def _service_allowed(statements: list[dict], service: str, arn: str, context: dict) -> bool:
    """Allowed for this service principal: the statements naming it (or anyone), as IAM reads them."""
    mine = [
        s for s in statements if s["Principal"] == "*" or service in as_list(s["Principal"].get("Service"))
    ]
    return allowed(mine, "sns:Publish", arn, context)
