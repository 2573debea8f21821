"""One notify key per account and region (issue 19), not a KMS key per pipeline stack.

target-account.yaml makes the key (NotifyKey), its alias and the SSM parameter naming it
(/mlops/notify-key-arn); every pipeline template reads the parameter and encrypts its notify topic
with it unless the config names its own key. Who may use the key is judged by evaluating its key
policy as KMS evaluates it (tests/repo/iam_eval.py): CloudWatch alarms and EventBridge rules may, as
https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
requires; principals of the account only through SNS of its region
(https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service,
#conditions-kms-caller-account); and no pipeline stack's execution role can change or delete it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.core.templates import _parse
from tests.repo.iam_eval import ALLOW, as_list, decide
from tests.repo.test_iam_policies import ACCOUNT, ORCH, PIPELINES, REGION, exec_role, role_statements, target

pytestmark = pytest.mark.repo

PARAMETER = "/mlops/notify-key-arn"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
USE = ("kms:GenerateDataKey", "kms:Decrypt")
SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


def key_policy() -> list[dict]:
    _, ev = target()
    statements = ev.resource("NotifyKey")["Properties"]["KeyPolicy"]["Statement"]
    return [_in_account(s) for s in statements]


def _in_account(value):
    """The Evaluator's pseudo AccountId (123456789012) as ACCOUNT, as test_iam_policies does."""
    return json.loads(json.dumps(value).replace("123456789012", ACCOUNT))


def _as(principal: dict, statements: list[dict]) -> list[dict]:
    """The statements that name this principal (a service, or any AWS principal)."""
    out = []
    for s in statements:
        named = s["Principal"]
        if named == "*" or named.get("AWS") == "*":
            out.append(s)
        elif "Service" in principal and principal["Service"] in as_list(named.get("Service", [])):
            out.append(s)
        elif "AWS" in principal and principal["AWS"] in as_list(named.get("AWS", [])):
            out.append(s)
    return out


# ------------------------------------------------------------------ the pipeline templates


@pytest.mark.parametrize("path", PIPELINES, ids=[p.name for p in PIPELINES])
def test_no_pipeline_template_makes_a_key_of_its_own(path: Path) -> None:
    body = _parse(path.read_text())
    assert [n for n, r in body["Resources"].items() if r["Type"].startswith("AWS::KMS::")] == []
    assert "OwnNotifyKey" not in body.get("Conditions", {})
    param = body["Parameters"]["NotifyKeyArn"]
    assert param["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert param["Default"] == PARAMETER
    assert body["Resources"]["NotifyTopic"]["Properties"]["KmsMasterKeyId"] == {
        "Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, {"Ref": "NotifyKeyArn"}]
    }


def test_the_target_account_stack_publishes_the_keys_arn_under_that_name() -> None:
    body, ev = target()
    published = ev.resource("NotifyKeyParameter")["Properties"]
    assert published["Name"] == PARAMETER
    assert published["Value"] == "<NotifyKey.Arn>"
    alias = ev.resource("NotifyKeyAlias")["Properties"]
    assert alias == {"AliasName": "alias/mlops-notify", "TargetKeyId": "<NotifyKey>"}
    assert ev.resource("NotifyKey")["Properties"]["EnableKeyRotation"] is True


def test_the_key_outlives_the_stack_and_a_replacement() -> None:
    """Topics of live pipeline stacks name the key; a key pending deletion can't be used and a deleted
    one decrypts nothing again (https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html).
    RetainExceptOnCreate still removes it when the create that made it rolls back
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html)."""
    body, _ = target()
    key = body["Resources"]["NotifyKey"]
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    assert key["UpdateReplacePolicy"] == "Retain"


# ------------------------------------------------------------------ who may use the key


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("action", USE)
def test_alarms_and_rules_of_this_account_use_the_key(service: str, action: str) -> None:
    mine = _as({"Service": service}, key_policy())
    ctx = {"kms:CallerAccount": ACCOUNT}
    assert decide(mine, action, KEY, {**ctx, "aws:SourceAccount": ACCOUNT}) == ALLOW
    # EventBridge's KMS requests carry no aws:SourceAccount: IfExists lets them through
    assert decide(mine, action, KEY, ctx) == ALLOW
    assert decide(mine, action, KEY, {**ctx, "aws:SourceAccount": "999999999999"}) != ALLOW


@pytest.mark.parametrize("service", SERVICES)
def test_the_services_only_encrypt_and_decrypt(service: str) -> None:
    mine = _as({"Service": service}, key_policy())
    for action in ("kms:Encrypt", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:CreateGrant"):
        assert decide(mine, action, KEY, {"aws:SourceAccount": ACCOUNT}) != ALLOW, action


@pytest.mark.parametrize(
    "role", ["mlops-deploy", "mlops-deploy-build-dev", "mlops-fraud-ab-prod-StateMachineRole-1A2B"]
)
@pytest.mark.parametrize("action", USE)
def test_principals_of_the_account_use_the_key_only_through_sns_of_its_region(role: str, action: str) -> None:
    """Deploy's role (or a stage build in the orchestrator's account) and a state machine publish to a
    topic; SNS then calls KMS for them. The key policy alone grants that: they need no key grant of
    their own (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html)."""
    anyone = _as({"AWS": f"arn:aws:iam::{ACCOUNT}:role/{role}"}, key_policy())
    anyone = [s for s in anyone if s["Principal"] != {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}]
    via_sns = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"sns.{REGION}.amazonaws.com"}
    assert decide(anyone, action, KEY, via_sns) == ALLOW
    assert decide(anyone, action, KEY, {**via_sns, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}) != ALLOW
    assert decide(anyone, action, KEY, {**via_sns, "kms:ViaService": "sns.eu-west-1.amazonaws.com"}) != ALLOW
    assert decide(anyone, action, KEY, {"kms:CallerAccount": ACCOUNT}) != ALLOW, "directly, not via SNS"
    assert decide(anyone, action, KEY, {**via_sns, "kms:CallerAccount": ORCH}) != ALLOW, "another account"
    for other in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:CreateGrant", "kms:ScheduleKeyDeletion"):
        assert decide(anyone, other, KEY, via_sns) != ALLOW, other


def test_only_the_account_administers_the_key() -> None:
    statements = key_policy()
    admins = [s for s in statements if "kms:*" in as_list(s["Action"])]
    assert [s["Principal"] for s in admins] == [{"AWS": f"arn:aws:iam::{ACCOUNT}:root"}]


# ------------------------------------------------------------------ what pipeline stacks can do to it


@pytest.mark.parametrize(
    "action",
    [
        "kms:CreateKey",
        "kms:ScheduleKeyDeletion",
        "kms:PutKeyPolicy",
        "kms:DisableKey",
        "kms:DisableKeyRotation",
        "kms:CreateAlias",
        "kms:DeleteAlias",
        "kms:UpdateAlias",
    ],
)
def test_the_execution_role_can_neither_make_nor_manage_keys(action: str) -> None:
    """No pipeline template makes a key any more, so the role that creates pipeline stacks can't
    change, disable or delete the account's notify key (nor the orchestrator's)."""
    sts = exec_role()
    for resource in (KEY, f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/mlops-notify", "*"):
        assert decide(sts, action, resource) != ALLOW, resource


def test_the_execution_role_cannot_repoint_the_parameter() -> None:
    sts = exec_role()
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PARAMETER}"
    for action in ("ssm:PutParameter", "ssm:DeleteParameter"):
        assert decide(sts, action, arn) == "Deny", action


def test_the_deploy_role_has_no_key_grant_of_its_own() -> None:
    """Publishing needs sns:Publish on the topic (tests/repo/test_notify_policies.py) and nothing on
    the key: the key policy's SNS statement covers it."""
    deploy = role_statements(target(), "DeployRole", ACCOUNT)
    assert decide(deploy, "kms:GenerateDataKey", KEY) != ALLOW


# ------------------------------------------------------------------ no pipeline role stops it
# A pipeline stack's role may be granted KMS administration in its own template (the boundary is a
# ceiling); the account's notify key is out of its reach, matched by its alias
# (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-resource-aliases).
NOTIFY_ALIAS = "alias/mlops-notify"
ALIAS_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:{NOTIFY_ALIAS}"
THE_KEY = {"kms:ResourceAliases": [NOTIFY_ALIAS, "alias/someone-elses"]}
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/9999abcd-12ab-34cd-56ef-1234567890ab"
KMS_ADMIN = [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]  # a pipeline role's own grant
STOPS = ("kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKeyRotation")


def _boundary() -> list[dict]:
    from tests.repo.test_iam_policies import boundary

    return boundary()


def _effective(own: list[dict], ceiling: list[dict], action: str, resource: str, ctx: dict) -> bool:
    """A role with a permissions boundary may act when both its own policy and the boundary allow
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)."""
    return decide(own, action, resource, ctx) == ALLOW and decide(ceiling, action, resource, ctx) == ALLOW


@pytest.mark.parametrize("action", STOPS)
def test_no_pipeline_role_disables_deletes_or_repolices_the_notify_key(action: str) -> None:
    ceiling = _boundary()
    assert decide(ceiling, action, KEY, THE_KEY) == "Deny"
    assert not _effective(KMS_ADMIN, ceiling, action, KEY, THE_KEY)
    # a key of the pipeline's own (its template's alias, or none) stays the pipeline's to manage
    for ctx in ({"kms:ResourceAliases": ["alias/mlops-churn-dev"]}, {}):
        assert _effective(KMS_ADMIN, ceiling, action, OTHER_KEY, ctx), ctx


@pytest.mark.parametrize("action", ["kms:DeleteAlias", "kms:UpdateAlias"])
def test_no_pipeline_role_moves_or_deletes_the_notify_keys_alias(action: str) -> None:
    ceiling = _boundary()
    assert decide(ceiling, action, ALIAS_ARN, THE_KEY) == "Deny"
    assert decide(ceiling, action, ALIAS_ARN) == "Deny", "by the alias's ARN, whatever the key"
    other = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/mlops-churn-dev"
    assert _effective(KMS_ADMIN, ceiling, action, other, {})


@pytest.mark.parametrize("action", [*STOPS, "kms:DeleteAlias", "kms:UpdateAlias"])
def test_the_execution_role_denies_the_same_explicitly(action: str) -> None:
    sts = exec_role()
    resource = ALIAS_ARN if "Alias" in action else KEY
    assert decide(sts, action, resource, THE_KEY) == "Deny"


@pytest.mark.parametrize("action", USE)
def test_the_notify_key_stays_usable_for_publishing(action: str) -> None:
    """The guard names management actions only: the boundary still lets a pipeline role (a state
    machine publishing to its topic) and the execution role use the key."""
    via_sns = {**THE_KEY, "kms:CallerAccount": ACCOUNT, "kms:ViaService": f"sns.{REGION}.amazonaws.com"}
    assert decide(_boundary(), action, KEY, via_sns) == ALLOW
    assert decide(exec_role(), action, KEY, via_sns) == ALLOW
    assert decide(_boundary(), "kms:CreateGrant", KEY, THE_KEY) == ALLOW, "a grant can't stop the key"
