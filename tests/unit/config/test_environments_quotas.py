"""environments.json values bootstrap and deploy hand to AWS, bounded so that validate, not AWS,
refuses them."""

from __future__ import annotations

import json

from mlops_gitops.config.environments import APPROVAL_TEMPLATE_CONTENT_MAX, approval_template_content
from mlops_gitops.core.render import REPOSITORY_TAG, repository_identity
from tests.conftest import CONFIGS, TmpRepo, run_cli

BASE = json.loads((CONFIGS / "environments.json").read_text())
SCHEMA = json.loads((CONFIGS / "environments.schema.json").read_text())
ORCHESTRATOR = SCHEMA["$defs"]["orchestrator"]["properties"]
CONNECTION = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


def _validate(tmp_repo: TmpRepo, **orchestrator) -> tuple[int, list[dict]]:
    tmp_repo.write_environments({**BASE, "orchestrator": {**BASE.get("orchestrator", {}), **orchestrator}})
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert "Traceback" not in result.err, result.err
    return result.code, result.json["findings"]


def _role(i: int) -> str:
    return f"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_MachineLearningModelApprovers_{i:02d}/*"


def test_approvers_whose_approval_rule_template_is_over_3000_characters_are_refused(tmp_repo) -> None:
    """CodeCommit approval rule template content is at most 3,000 characters
    (https://docs.aws.amazon.com/codecommit/latest/APIReference/API_CreateApprovalRuleTemplate.html):
    33 long ARNs make bootstrap's human-approval template 3,000+; validate says so first."""
    approvers = [_role(i) for i in range(33)]
    assert len(approval_template_content("main", approvers)) > APPROVAL_TEMPLATE_CONTENT_MAX
    code, findings = _validate(tmp_repo, approvers=approvers)
    assert code == 1
    (finding,) = findings
    assert finding["file"] == "pipeline-configs/environments.json"
    assert (finding["path"], finding["code"]) == ("$.orchestrator.approvers", "too-long")
    assert "over CodeCommit's 3000" in finding["message"] and "33 approvers" in finding["message"]
    assert "fewer approvers" in finding["hint"]
    fitting = approvers[:30]
    assert len(approval_template_content("main", fitting)) <= APPROVAL_TEMPLATE_CONTENT_MAX
    assert _validate(tmp_repo, approvers=fitting) == (0, [])


def test_the_approvers_bounds_refuse_only_what_could_never_fit() -> None:
    """maxItems: as many of the shortest approvers as fit with a one-character branch; maxLength:
    an IAM ARN's 2,048 (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html)."""
    approvers = ORCHESTRATOR["approvers"]
    shortest = "arn:aws:iam::111122223333:user/x"
    most = approvers["maxItems"]
    assert len(approval_template_content("m", [shortest] * most)) <= APPROVAL_TEMPLATE_CONTENT_MAX
    assert len(approval_template_content("m", [shortest] * (most + 1))) > APPROVAL_TEMPLATE_CONTENT_MAX
    assert approvers["items"]["maxLength"] == 2048


def test_a_full_repository_id_fits_the_repository_tag(tmp_repo) -> None:
    """full_repository_id becomes the mlops:repository stack tag, at most 256 characters
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Tag.html), and the
    orchestrator's CodePipeline source action's FullRepositoryId (configuration values at most
    1,000: https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html)."""
    longest = "o/" + "r" * 254
    settings = {"source": "connection", "connection_arn": CONNECTION}
    assert _validate(tmp_repo, **settings, full_repository_id=longest) == (0, [])
    assert len(repository_identity({**settings, "full_repository_id": longest})) <= 256, REPOSITORY_TAG
    code, findings = _validate(tmp_repo, **settings, full_repository_id=longest + "r")
    assert code == 1
    assert [f["path"] for f in findings] == ["$.orchestrator.full_repository_id"]


def test_bootstrap_stops_before_aws_on_approvers_codecommit_would_refuse(tmp_repo) -> None:
    """bootstrap validates environments.json first: the approval rule template CodeCommit would
    refuse (after the orchestrator stack was deployed) stops it before any AWS call."""
    _validate(tmp_repo, approvers=[_role(i) for i in range(33)])
    result = run_cli("--repo-root", str(tmp_repo.root), "bootstrap")
    assert result.code == 1, result.err
    assert "$.orchestrator.approvers" in result.err
    assert "nothing was deployed" in result.err
