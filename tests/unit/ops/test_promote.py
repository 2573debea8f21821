"""promote: where a stage's version is pinned, the targeted edit (its diff is the pin alone), the
branch made in a local git repository without touching the checkout, and the CodeCommit flow
(branch, commit, pull request) through botocore's Stubber, since moto has no CodeCommit content."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from mlops_gitops import jsonedit
from mlops_gitops.aws.clients import AwsContext
from mlops_gitops.errors import UsageError
from mlops_gitops.ops.promote import (
    PinSite,
    Promotion,
    PromotionError,
    apply_pin,
    commit_on_branch,
    group_of,
    pin_site,
)
from mlops_gitops.report.models import PackageFacts
from tests.conftest import EXAMPLES, TmpRepo, example, git_repo, run_cli

STAGES = ["dev", "staging", "prod"]
FRAUD = EXAMPLES["fraud-ab"].read_text()


def arn(version: int, group: str = "fraud-scorer") -> str:
    return f"arn:aws:sagemaker:us-east-1:111122223333:model-package/{group}/{version}"


# ------------------------------------------------------------------ targeted JSON edits


def test_replacing_a_value_changes_only_its_bytes() -> None:
    text = '{\n  "a": {"x": [1, {"k": "old"}]},\n  "b":   "keep  spacing"\n}\n'
    assert jsonedit.replace_value(text, ["a", "x", 1, "k"], "new") == text.replace('"old"', '"new"')
    assert jsonedit.replace_value(text, ["b"], {"d": 1}) == text.replace('"keep  spacing"', '{"d": 1}')


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"m": {"dev": "a"}}', '{"m": {"dev": "a", "prod": "p"}}'),
        ('{"m": {}}', '{"m": {"prod": "p"}}'),
        ('{\n  "m": {\n    "dev": "a"\n  }\n}', '{\n  "m": {\n    "dev": "a",\n    "prod": "p"\n  }\n}'),
        (
            '{\n  "m": {"dev": "a",\n        "qa": "b"}\n}',
            '{\n  "m": {"dev": "a",\n        "qa": "b",\n        "prod": "p"}\n}',
        ),
    ],
)
def test_a_key_is_added_in_the_objects_own_layout(text: str, expected: str) -> None:
    assert jsonedit.add_key(text, ["m"], "prod", "p") == expected


def test_paths_that_are_not_there_are_refused() -> None:
    with pytest.raises(jsonedit.JsonEditError, match="no key 'z'"):
        jsonedit.span('{"a": 1}', ["z"])
    with pytest.raises(jsonedit.JsonEditError, match="no item 3"):
        jsonedit.span('{"a": [1]}', ["a", 3])


# ------------------------------------------------------------------ where a stage's version is pinned


def site(config: dict, stage: str, variant: str | None = None) -> PinSite:
    return pin_site(config, stage, STAGES, variant)


def test_the_first_variant_bringing_a_package_decides_the_stage() -> None:
    fraud = example("fraud-ab")
    assert site(fraud, "prod") == PinSite(
        ("production_variants", "prod", 0, "model_package_name"), "replace", arn(6)
    )
    assert site(fraud, "prod", "challenger").path == ("production_variants", "prod", 1, "model_package_name")
    assert site(fraud, "staging") == PinSite(("model_package_name", "staging"), "replace", arn(7))
    assert site(fraud, "staging").display == "$.model_package_name.staging"


def test_refusals_say_what_to_do() -> None:
    fraud = example("fraud-ab")
    with pytest.raises(UsageError, match="no variant 'blue' in 'prod'; its variants: current, challenger"):
        site(fraud, "prod", "blue")
    with pytest.raises(UsageError, match="'staging' has no production_variants"):
        site({"model_package_name": "g"}, "staging", "x")
    fraud["production_variants"]["prod"][1].pop("model_package_name")
    with pytest.raises(PromotionError, match="serves the pipeline's own model"):
        site(fraud, "prod", "challenger")
    with pytest.raises(PromotionError, match="serves model_artifact_location"):
        site(example("churn-realtime"), "prod")


def test_a_single_value_becomes_per_stage_and_a_missing_stage_key_is_added() -> None:
    one = {"model_package_name": arn(3)}
    assert site(one, "prod") == PinSite(("model_package_name",), "per-stage", arn(3))
    text = f'{{\n  "model_package_name": "{arn(3)}"\n}}\n'
    new = json.loads(apply_pin(text, site(one, "prod"), "prod", STAGES, arn(4)))
    assert new["model_package_name"] == {"dev": arn(3), "staging": arn(3), "prod": arn(4)}
    partial = {"model_package_name": {"dev": "g"}}
    added = site(partial, "prod")
    assert (added.how, added.display) == ("add-key", "$.model_package_name.prod")
    assert group_of(arn(3)) == "fraud-scorer" and group_of("g") == "g"


# ------------------------------------------------------------------ the branch, in a local git repository


def git(root: Path, *argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def local(tmp_repo: TmpRepo) -> Path:
    tmp_repo.write("fraud-ab", FRAUD)
    return git_repo(tmp_repo.root, "base")


def changed_lines(root: Path, a: str, b: str) -> list[str]:
    diff = git(root, "diff", "--unified=0", a, b)
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_the_branch_holds_one_commit_whose_diff_is_the_pin_and_the_checkout_is_untouched(local: Path) -> None:
    path = "pipeline-configs/fraud-ab/mlops-config.json"
    (local / "scratch.txt").write_text("uncommitted work")  # the user's own, left alone
    data = json.loads(FRAUD)
    new = apply_pin(FRAUD, pin_site(data, "prod", STAGES), "prod", STAGES, arn(8))
    base = git(local, "rev-parse", "HEAD").strip()
    commit = commit_on_branch(local, base, path, new, "100644", "promote/x", "Promote\n")
    assert git(local, "rev-parse", "promote/x").strip() == commit
    old_line = '      {"name": "current", "weight": 0.9, "model_package_name": "%s"},'
    assert changed_lines(local, "main", "promote/x") == ["-" + old_line % arn(6), "+" + old_line % arn(8)]
    assert git(local, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(local, "status", "--porcelain") == "?? scratch.txt\n"
    with pytest.raises(UsageError, match="branch 'promote/x' exists already"):
        commit_on_branch(local, base, path, new, "100644", "promote/x", "again\n")


def test_adding_the_stage_key_is_the_only_change(local: Path) -> None:
    path = "pipeline-configs/fraud-ab/mlops-config.json"
    text = FRAUD.replace(f',\n    "prod": "{arn(6)}"\n', "\n")
    data = json.loads(text)
    data["production_variants"]["prod"][0].pop("model_package_name")
    text = text.replace(f', "model_package_name": "{arn(6)}"', "", 1)
    base = git(local, "rev-parse", "HEAD").strip()
    git(local, "branch", "before", commit_on_branch(local, base, path, text, "100644", "b1", "before\n"))
    new = apply_pin(text, pin_site(json.loads(text), "prod", STAGES), "prod", STAGES, arn(8))
    commit_on_branch(local, git(local, "rev-parse", "b1").strip(), path, new, "100644", "b2", "after\n")
    assert changed_lines(local, "b1", "b2") == [
        f'-    "staging": "{arn(7)}"',
        f'+    "staging": "{arn(7)}",',
        f'+    "prod": "{arn(8)}"',
    ]


# ------------------------------------------------------------------ the CodeCommit flow (Stubber)

WHEN = datetime(2026, 11, 2, tzinfo=timezone.utc)


def package(version: int, approval: str, report: str) -> dict:
    return {
        "ModelPackageGroupName": "fraud-scorer",
        "ModelPackageName": f"fraud-scorer/{version}",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelPackageVersion": version,
        "ModelPackageArn": arn(version),
        "CreationTime": WHEN,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": approval,
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report}}
        },
    }


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch):
    """Stubbed clients for every service promote reaches, whatever context asks for them."""
    clients = {
        s: boto3.client(s, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        for s in ("sagemaker", "s3", "codecommit", "ssm")
    }
    stubs = {s: Stubber(c) for s, c in clients.items()}
    monkeypatch.setattr(AwsContext, "client", lambda self, service, region=None: clients[service])
    monkeypatch.setattr(AwsContext, "caller_account", lambda self: "111122223333")
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def body(data: dict) -> StreamingBody:
    raw = json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_with_a_codecommit_repository_promote_opens_a_pull_request(local: Path, stubbed) -> None:
    ssm, sm, s3, cc = stubbed["ssm"], stubbed["sagemaker"], stubbed["s3"], stubbed["codecommit"]
    ssm.add_response("get_parameter", {"Parameter": {"Name": "/mlops/repository-name", "Value": "configs"}})
    cc.add_response(
        "get_branch",
        {"branch": {"branchName": "main", "commitId": "c" * 40}},
        {"repositoryName": "configs", "branchName": "main"},
    )
    cc.add_response(
        "get_file",
        {
            "commitId": "c" * 40,
            "blobId": "b",
            "filePath": "p",
            "fileMode": "NORMAL",
            "fileSize": 1,
            "fileContent": FRAUD.encode(),
        },
        {
            "repositoryName": "configs",
            "filePath": "pipeline-configs/fraud-ab/mlops-config.json",
            "commitSpecifier": "c" * 40,
        },
    )
    sm.add_response(
        "describe_model_package",
        package(8, "Approved", "s3://r/8/evaluation.json"),
        {"ModelPackageName": arn(8)},
    )
    s3.add_response("get_object", {"Body": body({"metrics": {"auc": {"value": 0.95}}})})
    sm.add_response(
        "describe_model_package",
        package(6, "Approved", "s3://r/6/evaluation.json"),
        {"ModelPackageName": arn(6)},
    )
    s3.add_response("get_object", {"Body": body({"metrics": {"auc": {"value": 0.91}}})})
    branch = "promote/fraud-ab-prod-fraud-scorer-v8"
    cc.add_response(
        "create_branch", {}, {"repositoryName": "configs", "branchName": branch, "commitId": "c" * 40}
    )
    cc.add_response("put_file", {"commitId": "d" * 40, "blobId": "b2", "treeId": "t"})
    cc.add_response(
        "create_pull_request",
        {
            "pullRequest": {
                "pullRequestId": "42",
                "pullRequestTargets": [{"repositoryName": "configs", "sourceReference": branch}],
            }
        },
    )  # no clientRequestToken expected: botocore adds it after the stub has matched
    result = run_cli(
        "--repo-root", str(local), "promote", "fraud-ab", "--to", "prod", "--model-package-arn", arn(8)
    )
    assert result.code == 0, result.out + result.err
    assert (
        "opened pull request 42 in configs: promote/fraud-ab-prod-fraud-scorer-v8 (commit dddddddddddd) into main"
        in result.out
    )
    assert "metric: auc 0.91 → 0.95 (+0.04)" in result.out
    assert git(local, "branch", "--list", "promote/*") == "", "the API made the branch, not local git"


def test_an_unapproved_version_is_refused_before_anything_is_written(local: Path, stubbed) -> None:
    sm = stubbed["sagemaker"]
    sm.add_response("describe_model_package", package(8, "Rejected", "s3://r/8/e.json"))
    stubbed["s3"].add_response("get_object", {"Body": body({})})
    result = run_cli(
        "--repo-root",
        str(local),
        "promote",
        "fraud-ab",
        "--to",
        "staging",
        "--model-package-arn",
        arn(8),
        "--local",
    )
    assert result.code == 1
    assert f"{arn(8)} is Rejected; 'staging' deploys only Approved versions" in result.err
    assert git(local, "branch", "--list", "promote/*") == ""


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (
            ["fraud-ab", "--to", "prod", "--model-package-arn", "fraud-scorer"],
            2,
            "is not a model-package version ARN",
        ),
        (["fraud-ab", "--to", "qa", "--latest-approved"], 2, "no stage 'qa' in environments.json"),
        (
            ["fraud-ab", "--to", "prod"],
            2,
            "one of the arguments --model-package-arn --latest-approved --from-shadow is required",
        ),
        (["nope", "--to", "prod", "--latest-approved", "--local"], 2, "does not exist at"),
    ],
)
def test_usage_errors_exit_2_before_aws(local: Path, argv: list[str], code: int, message: str) -> None:
    result = run_cli("--repo-root", str(local), "--region", "us-east-1", "promote", *argv)
    assert result.code == code, result.out + result.err
    assert message in result.err and "Traceback" not in result.err


# ------------------------------------------------------------------ what leaves as text

EVIL = (
    "x`y|z<script>alert(1)</script></details>\r\n\nSigned-off-by: Mallory <m@example.com>\n## LGTM\x1b[2J\x00"
)


def hostile_promotion() -> Promotion:
    """A promotion whose config value (a group name) and registry facts (approval, metric names and
    values) hold markdown, HTML, line breaks and control characters."""
    site = PinSite(("model_package_name",), "replace", f"group-{EVIL}")
    new = PackageFacts("Approved" + EVIL, {f"auc{EVIL}": "0.9", "recall": f"0.8{EVIL}"}, primary_metric=None)
    old = PackageFacts("Approved", {f"auc{EVIL}": "0.85"})
    return Promotion(
        "fraud-ab", "prod", "pipeline-configs/fraud-ab/mlops-config.json", site, arn(8), new, old, "main"
    )


def test_the_commit_message_and_title_hold_each_value_on_one_line() -> None:
    promotion = hostile_promotion()
    title = promotion.title()
    assert len(title) <= 150 and "\n" not in title and "\r" not in title and "\x1b" not in title
    message = promotion.message()
    lines = message.split("\n")
    assert len(lines) == 13, message  # title, blank, 2 of what, 2 of instead, blank, metrics, ...
    assert not any(line.startswith(("Signed-off-by", "## ")) for line in lines)
    assert not any(ch in message for ch in "\x00\x1b\r")


def test_the_pull_request_description_escapes_markdown_and_html() -> None:
    description = hostile_promotion().description()
    lines = description.split("\n")
    assert not any(line.startswith("#") for line in lines)
    assert not any(ch in description for ch in "\x00\x1b\r")
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "CODE", description)
    assert "<" not in outside_code and ">" not in outside_code, outside_code
    assert "&lt;script&gt;" in description  # the metric name, as text
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == 2 + 2, description  # from, to; two metrics
