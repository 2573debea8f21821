"""validate's name-prefix finding (config/validate.py name_prefix_findings): no stack name may start
with another pipeline's stack name and a hyphen where both could share an account and region: the
other stack's notify topic admits `<stack>-*` alarms and rules, and its job rules match jobs by it."""

from __future__ import annotations

import json

from tests.conftest import CONFIGS, TmpRepo, run_cli

BATCH = json.loads((CONFIGS / "churn-batch" / "mlops-config.json").read_text())
ENV = json.loads((CONFIGS / "environments.json").read_text())


def with_prod_account(account: str) -> dict:
    env = json.loads(json.dumps(ENV))
    for stage in env["stages"]:
        if stage["name"] == "prod":
            stage["account_id"] = account
    return env


def only(stage: str) -> dict:
    """churn-batch deploying to ``stage`` alone (its per-stage values reduced to that stage's)."""
    stages = {"dev", "staging", "prod"}
    config = {
        k: v[stage] if isinstance(v, dict) and set(v) <= stages and stage in v else v
        for k, v in BATCH.items()
    }
    return {**config, "stages": [stage]}


def findings(tmp_repo: TmpRepo) -> list[dict]:
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    return [f for f in json.loads(result.out)["findings"] if f["code"] == "name-prefix"]


def test_a_stage_without_an_account_is_compared_with_a_stage_that_names_one(tmp_repo: TmpRepo) -> None:
    """`churn-dev-x` in prod (account 123456789012) sits under `mlops-churn-dev` (dev, no account_id:
    the pipeline account, which may be that very account)."""
    tmp_repo.write_environments(with_prod_account("123456789012"))
    tmp_repo.write("churn", only("dev"))
    tmp_repo.write("churn-dev-x", only("prod"))
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1
    assert {f["code"] for f in result.json["findings"]} == {"name-prefix"}
    found = findings(tmp_repo)
    assert [(f["file"], f["path"]) for f in found] == [
        ("pipeline-configs/churn-dev-x/mlops-config.json", "$")
    ]
    assert "'mlops-churn-dev-x-prod' under 'mlops-churn-dev'" in found[0]["message"]


def test_stacks_in_two_named_accounts_do_not_clash(tmp_repo: TmpRepo) -> None:
    env = with_prod_account("123456789012")
    for stage in env["stages"]:
        if stage["name"] == "dev":
            stage["account_id"] = "210987654321"
    tmp_repo.write_environments(env)
    tmp_repo.write("churn", only("dev"))
    tmp_repo.write("churn-dev-x", only("prod"))
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert (result.code, result.json["findings"]) == (0, [])


TRAINING = json.loads((CONFIGS / "churn-training" / "mlops-config.json").read_text())


def training_only(stage: str, job_name: str) -> dict:
    stages = {"dev", "staging", "prod"}
    config = {
        k: v[stage] if isinstance(v, dict) and set(v) <= stages and stage in v else v
        for k, v in TRAINING.items()
    }
    return {**config, "stages": [stage], "job_name": job_name}


def test_job_name_prefixes_are_compared_across_a_stage_without_an_account(tmp_repo: TmpRepo) -> None:
    """The same job_name in dev (the pipeline account) and in prod (an explicit account, which may be the
    pipeline account): each stack's job-outcome rules would take the other's jobs."""
    tmp_repo.write_environments(with_prod_account("123456789012"))
    tmp_repo.write("churn-a", training_only("dev", "churn-jobs"))
    tmp_repo.write("churn-b", training_only("prod", "churn-jobs"))
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1
    assert {(f["path"], f["code"]) for f in result.json["findings"]} == {("$.job_name", "job-name-prefix")}
