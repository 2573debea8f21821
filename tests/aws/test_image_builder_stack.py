"""The image builder template, created in a moto server with the parameters the builder gives for
every stage of the fraud-image example, checked through the service APIs.

moto (../shared/reference/moto-and-cfn-lint.md §2-3) creates the ECR repository (name, URI, tag
mutability), the IAM roles with their inline policies, the log group (retention), the two
EventBridge rules (patterns, targets), the KMS key and the SNS topic (name, key). It silently
ignores the CodeBuild project and the SNS topic policy, and the repository's lifecycle policy; it
keeps the repository's ImageScanningConfiguration and EncryptionConfiguration in CloudFormation's
shape (ScanOnPush, EncryptionType), which its API answer drops (moto 5.2.5 answers {} for both).
Those are asserted at template level below, the inline buildspec parsed and checked command by
command.
"""

from __future__ import annotations

import json

import pytest
import yaml

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import PIPELINES_DIR, load_template
from mlops_gitops.repo import Repo
from tests.aws.conftest import NOTIFY_KEY_ARN, REGION, inline_policy, orchestrator_basics
from tests.conftest import REPO_ROOT

TEMPLATE = "image_builder.yaml"
ARTIFACT_BUCKET = "mlops-artifacts-111122223333"
ACCOUNT = "123456789012"  # moto's default account
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:images"
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
CFG, _ = VALIDATOR.check_config(REPO.configs_dir / "fraud-image" / "mlops-config.json", ENV)
assert CFG is not None and CFG.pipeline_type == "byom_image_builder"
BODY = load_template(REPO_ROOT, TEMPLATE).body
RESOURCES = BODY["Resources"]


def _parameters(stage: str) -> dict[str, str]:
    ctx = ParamContext(CFG, stage, ENV, REGION)
    params, deferred = builder_for(TEMPLATE)(ctx)
    assert ctx.findings == [] and deferred == {}
    return params


def _create(aws, stack_name: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
    orchestrator_basics(aws, ARTIFACT_BUCKET, upload_lambdas=False)
    cfn = aws("cloudformation")
    stack_id = cfn.create_stack(
        StackName=stack_name,
        TemplateBody=(REPO_ROOT / PIPELINES_DIR / TEMPLATE).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Tags=[{"Key": "mlops:pipeline-id", "Value": "fraud-image"}],
        Capabilities=["CAPABILITY_IAM"],
    )["StackId"]
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return stack_id, {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.mark.parametrize("stage", CFG.stages)
def test_stack_is_created_in_moto(aws, stage: str) -> None:
    params = _parameters(stage)
    prefix = params["NamePrefix"]
    stack_id, outputs = _create(aws, f"mlops-fraud-image-{stage}", params)

    # the repository: the config's name, tags immutable (scan on push: see the module docstring)
    (repository,) = aws("ecr").describe_repositories(repositoryNames=["fraud-scorer"])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud-scorer"
    assert outputs["RepositoryUri"] == repository["repositoryUri"] == uri
    assert outputs["ImageUri"] == f"{uri}:2.3.0"
    assert outputs["BuildProjectName"] == f"{prefix}-image"

    # the build's log group, with its retention
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/codebuild/{prefix}-image")
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups["logGroups"]] == [
        (f"/aws/codebuild/{prefix}-image", 90)
    ]

    # the build role: read the bundle, pull base images, push to this repository, write its logs
    iam = aws("iam")
    build_role = _role_trusting(iam, "codebuild.amazonaws.com")
    grants = {s["Sid"]: s for s in inline_policy(iam, build_role)["Statement"]}
    assert set(grants) == {
        "ReadTheBundle",
        "LocateTheBundleBucket",
        "EcrLogin",
        "PushToTheRepository",
        "WriteLogs",
        "PullBaseImagesFromAwsRegistries",  # issue 15 part 5d, a policy of its own
    }
    assert (
        grants["ReadTheBundle"]["Resource"] == "arn:aws:s3:::mlops-demo-assets/images/fraud-scorer-2.3.0.zip"
    )
    assert grants["LocateTheBundleBucket"]["Resource"] == "arn:aws:s3:::mlops-demo-assets"
    assert grants["PushToTheRepository"]["Resource"] == repository["repositoryArn"]
    assert "ecr:PutImage" in grants["PushToTheRepository"]["Action"]
    assert grants["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    assert grants["WriteLogs"]["Resource"].startswith(
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/{prefix}-image"
    )
    assert all(not a.endswith("*") for s in grants.values() for a in _list(s["Action"]))

    # the start role: start this project's builds, nothing else
    start_role = _role_trusting(iam, "events.amazonaws.com")
    (start,) = inline_policy(iam, start_role)["Statement"]
    project_arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{prefix}-image"
    assert (start["Action"], start["Resource"]) == ("codebuild:StartBuild", project_arn)

    # the rules: build when this stack is created or updated; report each finished build
    events = aws("events")
    trigger = events.describe_rule(Name=f"{prefix}-build-on-deploy")
    assert json.loads(trigger["EventPattern"]) == {
        "source": ["aws.cloudformation"],
        "detail-type": ["CloudFormation Stack Status Change"],
        "detail": {
            "stack-id": [stack_id],
            "status-details": {"status": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]},
        },
    }
    (target,) = events.list_targets_by_rule(Rule=f"{prefix}-build-on-deploy")["Targets"]
    assert target["Arn"] == project_arn
    assert target["RoleArn"].endswith(f"/{start_role}")
    assert target["Input"] == "{}", "the event is not a StartBuild request: start with the project's settings"

    outcome = events.describe_rule(Name=f"{prefix}-build-outcome")
    assert json.loads(outcome["EventPattern"])["detail"] == {
        "project-name": [f"{prefix}-image"],
        "build-status": ["SUCCEEDED", "FAILED", "STOPPED"],
    }
    (target,) = events.list_targets_by_rule(Rule=f"{prefix}-build-outcome")["Targets"]
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{prefix}-notify"  # the pipeline's notify topic (issue 19)
    assert target["Arn"] == outputs["NotificationTopic"] == topic_arn
    assert set(target["InputTransformer"]["InputPathsMap"]) == {"project", "status", "build"}

    # the stack's topic, under the account's notify key (EventBridge can't use alias/aws/sns); the
    # stack makes no key of its own
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == NOTIFY_KEY_ARN
    assert aws("kms").list_keys()["Keys"] == []


def test_a_key_and_a_topic_of_the_config(aws) -> None:
    aws("sns").create_topic(Name="images")
    params = {
        **_parameters("dev"),
        "KmsKeyArn": KEY_ARN,
        "NotificationTopicArn": TOPIC_ARN,
        "ScanOnPush": "false",
        "ImageTagMutability": "MUTABLE",
    }
    _, outputs = _create(aws, "mlops-fraud-image-kms", params)
    (repository,) = aws("ecr").describe_repositories(repositoryNames=["fraud-scorer"])["repositories"]
    assert repository["imageTagMutability"] == "MUTABLE"
    # no key of the stack's own (the config's key encrypts its notify topic); the outcomes go to
    # the pipeline's notify topic and to the config's topic
    notify = f"arn:aws:sns:{REGION}:{ACCOUNT}:{params['NamePrefix']}-notify"
    assert sorted(t["TopicArn"] for t in aws("sns").list_topics()["Topics"]) == sorted([TOPIC_ARN, notify])
    assert aws("kms").list_keys()["Keys"] == []
    assert outputs["NotificationTopic"] == notify
    targets = aws("events").list_targets_by_rule(Rule=f"{params['NamePrefix']}-build-outcome")["Targets"]
    assert sorted(t["Arn"] for t in targets) == sorted([TOPIC_ARN, notify])
    iam = aws("iam")
    grants = {
        s["Sid"]: s for s in inline_policy(iam, _role_trusting(iam, "codebuild.amazonaws.com"))["Statement"]
    }
    assert grants["UseTheStackKey"]["Resource"] == KEY_ARN


def test_a_new_tag_updates_the_stack_and_keeps_the_repository(aws) -> None:
    """A changed config is a stack update: UPDATE_COMPLETE is what starts the next build."""
    params = _parameters("dev")
    _create(aws, "mlops-fraud-image-dev", params)
    cfn = aws("cloudformation")
    cfn.update_stack(
        StackName="mlops-fraud-image-dev",
        TemplateBody=(REPO_ROOT / PIPELINES_DIR / TEMPLATE).read_text(),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in {**params, "ImageTag": "2.4.0"}.items()
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName="mlops-fraud-image-dev")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ImageUri"].endswith("/fraud-scorer:2.4.0")
    assert [r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]] == [
        "fraud-scorer"
    ]


def _role_trusting(iam, service: str) -> str:
    (name,) = [
        r["RoleName"]
        for r in iam.list_roles()["Roles"]
        if service in json.dumps(r["AssumeRolePolicyDocument"])
    ]
    return name


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------ what moto does not create


def test_repository_is_kept_encrypted_and_pruned() -> None:
    repository = RESOURCES["Repository"]
    assert (repository["DeletionPolicy"], repository["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )
    props = repository["Properties"]
    assert props["RepositoryName"] == {"Ref": "EcrRepoName"}
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": {"Fn::If": ["ScanImages", True, False]}}
    assert props["EncryptionConfiguration"] == {
        "Fn::If": [
            "HasKms",
            {"EncryptionType": "KMS", "KmsKey": {"Ref": "KmsKeyArn"}},
            {"EncryptionType": "AES256"},
        ]
    }
    text = props["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    policy = json.loads(text.replace("${UntaggedImagesToKeep}", "10"))
    (rule,) = policy["rules"]
    assert rule["selection"] == {
        "tagStatus": "untagged",
        "countType": "imageCountMoreThan",
        "countNumber": 10,
    }
    assert rule["action"] == {"type": "expire"}


def test_build_project_is_privileged_logged_and_reads_the_bundle() -> None:
    project = RESOURCES["BuildProject"]["Properties"]
    assert project["Name"] == {"Fn::Sub": "${NamePrefix}-image"}
    assert project["ServiceRole"] == {"Fn::GetAtt": ["BuildRole", "Arn"]}
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Environment"]["Type"] == "LINUX_CONTAINER"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables == {
        "REGISTRY": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}"},
        "REPOSITORY_URI": {"Fn::GetAtt": ["Repository", "RepositoryUri"]},
        "IMAGE_TAG": {"Ref": "ImageTag"},
        "TAG_MUTABILITY": {"Ref": "ImageTagMutability"},
        "PULL_THROUGH_CACHE_PREFIX": {"Ref": "PullThroughCachePrefix"},
    }
    assert project["Source"]["Type"] == "S3"
    # bucket/key of the s3:// URI, as CodeBuild wants an S3 source location
    assert project["Source"]["Location"] == {
        "Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": "CustomAlgorithmDocker"}]}]
    }
    assert project["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert project["EncryptionKey"] == {"Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    assert project["LogsConfig"] == {
        "CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": "BuildLogs"}},
        "S3Logs": {"Status": "DISABLED"},
    }


def test_buildspec_logs_in_builds_tags_and_pushes() -> None:
    spec = yaml.safe_load(RESOURCES["BuildProject"]["Properties"]["Source"]["BuildSpec"])
    assert spec["version"] == 0.2
    assert spec["env"] == {"shell": "bash"}
    phases = spec["phases"]
    assert list(phases) == ["pre_build", "build", "post_build"]
    login, *skip = phases["pre_build"]["commands"]
    assert login.startswith('aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS')
    assert login.endswith('--password-stdin "$REGISTRY"')
    # an immutable tag that exists already is not built again (a stack update without a new tag)
    assert skip[0] == "SKIP=0"
    assert '[ "$TAG_MUTABILITY" = IMMUTABLE ]' in skip[1] and 'imageTag="$IMAGE_TAG"' in skip[1]
    build = phases["build"]["commands"]
    assert build[0].startswith("test -f Dockerfile")
    assert 'docker build --tag "$REPOSITORY_URI:$IMAGE_TAG" .' in build[-1]
    post = phases["post_build"]["commands"]
    # post_build runs after a failed build too: push only what was built
    assert post[0] == '[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ] || exit 1'
    assert 'docker push "$REPOSITORY_URI:$IMAGE_TAG"' in post[1]


def test_own_topic_lets_eventbridge_publish() -> None:
    """The pipeline's notify topic (issue 19; every template: tests/repo/test_notify_topic.py)."""
    policy = RESOURCES["NotifyTopicPolicy"]
    (statement,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert "events.amazonaws.com" in statement["Principal"]["Service"]
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == {"Ref": "NotifyTopic"}
    # the account's notify key, whose policy lets EventBridge use it (tests/repo/test_notify_key.py)
    assert RESOURCES["NotifyTopic"]["Properties"]["KmsMasterKeyId"] == {
        "Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, {"Ref": "NotifyKeyArn"}]
    }


def test_template_keeps_the_house_style() -> None:
    from tests.repo import test_templates

    test_templates.test_template_style(TEMPLATE)


DOCKERFILE = """\
ARG REGION=us-east-1
FROM 763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.1.0-gpu-py310 AS torch
FROM --platform=linux/amd64 python:3.11-slim AS build
FROM build AS test
FROM continuumio/miniconda3:23.10.0-1
FROM docker.io/library/ubuntu:22.04
FROM public.ecr.aws/lambda/python:3.11
from 683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1
FROM 763104351884.dkr.ecr.${REGION}.amazonaws.com/pytorch-inference:2.1.0-cpu-py310
FROM 123456789012.dkr.ecr.us-east-1.amazonaws.com/own:1
FROM scratch
COPY --from=torch /opt/conda /opt/conda
"""

CACHED = """\
ARG REGION=us-east-1
FROM 763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.1.0-gpu-py310 AS torch
FROM --platform=linux/amd64 123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/python:3.11-slim AS build
FROM build AS test
FROM 123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/continuumio/miniconda3:23.10.0-1
FROM 123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/ubuntu:22.04
FROM public.ecr.aws/lambda/python:3.11
from 683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1
FROM 763104351884.dkr.ecr.${REGION}.amazonaws.com/pytorch-inference:2.1.0-cpu-py310
FROM 123456789012.dkr.ecr.us-east-1.amazonaws.com/own:1
FROM scratch
COPY --from=torch /opt/conda /opt/conda
"""


def _run_build_phase(tmp_path, cache_prefix: str) -> tuple[str, list[str]]:
    """The buildspec's build commands run by bash in a bundle directory, with docker and aws
    stand-ins on PATH that record their arguments: (the Dockerfile built, the calls made)."""
    import os
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash, as CodeBuild's shell: bash")
    bundle, stubs, calls = tmp_path / "bundle", tmp_path / "bin", tmp_path / "calls"
    bundle.mkdir()
    stubs.mkdir()
    (bundle / "Dockerfile").write_text(DOCKERFILE)
    for tool in ("aws", "docker"):
        stub = stubs / tool
        stub.write_text(
            f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n[ "$2" = get-login-password ] && echo token\nexit 0\n'
        )
        stub.chmod(0o755)
    spec = yaml.safe_load(RESOURCES["BuildProject"]["Properties"]["Source"]["BuildSpec"])
    env = {
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "REGISTRY": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com",
        "REPOSITORY_URI": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer",
        "IMAGE_TAG": "2.3.0",
        "PULL_THROUGH_CACHE_PREFIX": cache_prefix,
        "SKIP": "0",
    }
    for command in spec["phases"]["build"]["commands"]:
        done = subprocess.run([bash, "-c", command], cwd=bundle, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    return (bundle / "Dockerfile").read_text(), calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("cache_prefix", ["docker-hub", ""])
def test_the_build_logs_in_to_aws_base_registries_and_pulls_docker_hub_through_the_cache(
    tmp_path, cache_prefix: str
) -> None:
    """Issue 15 part 5d. Base images in AWS's registries (Deep Learning Containers 763104351884,
    SageMaker algorithms) need a docker login to that registry and region
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html); with
    pull_through_cache_prefix, Docker Hub images are pulled through the account's ECR pull-through
    cache, as <registry>/<prefix>/library/<name> for official images
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-working-pulling.html);
    build stages, other registries, scratch and ARG-built references stay as written."""
    built, calls = _run_build_phase(tmp_path, cache_prefix)
    assert built == (CACHED.replace("docker-hub", cache_prefix) if cache_prefix else DOCKERFILE)
    logins = [c for c in calls if c.startswith("docker login")]
    assert sorted(logins) == [
        "docker login --username AWS --password-stdin 683313688378.dkr.ecr.eu-west-1.amazonaws.com",
        "docker login --username AWS --password-stdin 763104351884.dkr.ecr.us-west-2.amazonaws.com",
    ], "each AWS base registry once, not our own (pre_build logged in to it)"
    tokens = sorted(c for c in calls if c.startswith("aws ecr get-login-password"))
    assert tokens == [
        "aws ecr get-login-password --region eu-west-1",
        "aws ecr get-login-password --region us-west-2",
    ]
    assert calls[-1] == f"docker build --tag {ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:2.3.0 ."


def test_the_build_role_may_pull_base_images_and_through_the_cache() -> None:
    """New IAM of issue 15 part 5d, in policies of their own on BuildRole."""
    policy = RESOURCES["PullBaseImagesPolicy"]
    assert policy["Type"] == "AWS::IAM::Policy" and policy["Properties"]["Roles"] == [{"Ref": "BuildRole"}]
    (pull,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert pull["Action"] == [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
    ]
    cache = RESOURCES["PullThroughCachePolicy"]
    assert cache["Condition"] == "HasPullThroughCache"
    (statement,) = cache["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${PullThroughCachePrefix}/*"
    }
