"""bootstrap gives each stage's deploy build the one stage account it may reach, and each stage
account trusts only the build roles of the stages living there (cloudformation/orchestrator.yaml
Stage<i>DeployRoleArn, cloudformation/target-account.yaml DeployBuildRoleArns)."""

from __future__ import annotations

from mlops_gitops.config.environments import Environments
from mlops_gitops.ops.bootstrap import plan_jobs

OWN, DEV, PROD = "123456789012", "111111111111", "333333333333"


def _jobs() -> list:
    env = Environments.from_data(
        {
            "stack_prefix": "ml",
            "region": "us-east-1",
            "stages": [
                {"name": "dev", "account_id": DEV},
                {"name": "qa", "account_id": PROD, "region": "eu-west-1"},  # shares prod's account
                {"name": "prod", "account_id": PROD},
            ],
        }
    )
    return plan_jobs(env, OWN, "us-east-1", "aws")


def test_each_stage_build_may_assume_only_its_own_accounts_deploy_role() -> None:
    (orchestrator,) = [j for j in _jobs() if j.kind == "orchestrator"]
    params = orchestrator.parameters
    assert params["Stage1DeployRoleArn"] == f"arn:aws:iam::{DEV}:role/ml-deploy"
    assert params["Stage2DeployRoleArn"] == f"arn:aws:iam::{PROD}:role/ml-deploy"
    assert params["Stage3DeployRoleArn"] == f"arn:aws:iam::{PROD}:role/ml-deploy"
    assert "TargetDeployRoleArns" not in params, "no role may assume every stage account's role"


def test_a_stage_account_trusts_only_the_build_roles_of_its_stages() -> None:
    trusted = {
        (j.account, j.region): j.parameters["DeployBuildRoleArns"].split(",")
        for j in _jobs()
        if j.kind == "target-account"
    }
    build = f"arn:aws:iam::{OWN}:role/ml-deploy-build-"
    assert trusted == {
        (DEV, "us-east-1"): [build + "dev"],
        # both regions of the account name both its stages: its one deploy role serves them both
        (PROD, "eu-west-1"): [build + "qa", build + "prod"],
        (PROD, "us-east-1"): [build + "qa", build + "prod"],
    }


def test_a_stage_in_the_orchestrators_account_assumes_no_role() -> None:
    env = Environments.from_data({"stack_prefix": "ml", "stages": [{"name": "dev"}, {"name": "prod"}]})
    jobs = plan_jobs(env, OWN, "us-east-1", "aws")
    (orchestrator,) = [j for j in jobs if j.kind == "orchestrator"]
    assert orchestrator.parameters["Stage1DeployRoleArn"] == ""
    assert orchestrator.parameters["Stage2DeployRoleArn"] == ""
    assert orchestrator.parameters["Stage3DeployRoleArn"] == "", "no third stage"
    (target,) = [j for j in jobs if j.kind == "target-account"]
    assert target.parameters["DeployBuildRoleArns"] == (
        f"arn:aws:iam::{OWN}:role/ml-deploy-build-dev,arn:aws:iam::{OWN}:role/ml-deploy-build-prod"
    )
