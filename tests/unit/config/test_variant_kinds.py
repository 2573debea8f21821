"""validate on `serverless`, `shadow_variant`, `async_inference` and `multi_model` (config/rules/variants.py): each row changes an
example and names the exact (path, code, severity) findings of those rules, and a word of the hint.
What SageMaker refuses is cited at each rule:
https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html (feature exclusions),
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-exclusions.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TmpRepo, example, validate_findings

SERVERLESS = {"memory_size_mb": 2048, "max_concurrency": 5}
MP7 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/7"
SHADOW = {"model_package_name": MP7}
CODES = {
    "serverless-excluded",
    "serverless-ignored",
    "rollout-excluded",
    "rollout-unused",
    "rollout-small-fleet",
    "shadow-excluded",
    "model-source",
    "unpinned-model",
    "duplicate",
    "range",
    "async-scale-to-zero",
    "multi-model-source",
    "multi-model-excluded",
    "multi-model-gpu",
}
MME = {"model_prefix": "s3://mlops-demo-models/claims/tenants/"}
ASYNC = {"output_location": "s3://mlops-demo-results/p/output"}


def edited(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Example ``name`` with top-level changes (None removes a key)."""
    config = example(name)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def serverless(**changes: Any) -> dict[str, Any]:
    return edited("churn-serverless", changes)


def async_(**changes: Any) -> dict[str, Any]:
    return edited("claims-async", changes)


def shadow(**changes: Any) -> dict[str, Any]:
    return edited("fraud-shadow", changes)


CASES = [
    pytest.param(serverless(), set(), None, id="the-serverless-example-is-clean"),
    pytest.param(shadow(), set(), None, id="the-shadow-example-is-clean"),
    pytest.param(
        serverless(serverless={**SERVERLESS, "max_concurrency": 2, "provisioned_concurrency": 3}),
        {("$.serverless.provisioned_concurrency", "range", "error")},
        "API_ProductionVariantServerlessConfig",
        id="serverless-provisioned-above-max",
    ),
    pytest.param(
        serverless(serverless=SERVERLESS, production_variants=[{"name": "a"}, {"name": "b"}]),
        {("$.production_variants", "serverless-excluded", "error")},
        "serverless-endpoints.html",
        id="serverless-with-two-variants",
    ),
    pytest.param(
        serverless(serverless=SERVERLESS, production_variants=[{"name": "only"}]),
        set(),
        None,
        id="serverless-with-one-named-variant-is-fine",
    ),
    pytest.param(
        serverless(serverless=SERVERLESS, autoscaling={"max_capacity": 2}),
        {("$.autoscaling", "serverless-excluded", "error")},
        "provisioned_concurrency",
        id="serverless-with-autoscaling",
    ),
    pytest.param(
        serverless(autoscaling={"dev": {"max_capacity": 2}, "staging": None, "prod": None}),
        {("$.autoscaling.dev", "serverless-excluded", "error")},
        "remove it for stage 'dev'",
        id="serverless-dev-with-autoscaling-in-dev-only",
    ),
    pytest.param(
        serverless(
            serverless=SERVERLESS,
            model_package_name=MP7,
            model_artifact_location=None,
            shadow_variant={"model_package_name": MP7, "name": "challenger"},
        ),
        {("$.shadow_variant", "serverless-excluded", "error")},
        "shadow-tests-exclusions",
        id="serverless-with-shadow",
    ),
    pytest.param(
        serverless(serverless=SERVERLESS, rollout={"policy": "canary"}),
        {("$.rollout.policy", "rollout-excluded", "error")},
        "all_at_once",
        id="serverless-with-explicit-canary",
    ),
    pytest.param(
        serverless(serverless=SERVERLESS, rollout={"policy": "linear"}),
        {("$.rollout.policy", "rollout-excluded", "error")},
        "API_TrafficRoutingConfig",
        id="serverless-with-explicit-linear",
    ),
    # the stage's default canary (staging, prod) is not refused: a serverless stage gets no
    # DeploymentConfig (tests/unit/core/params/test_realtime_kinds_params.py)
    pytest.param(serverless(serverless=SERVERLESS, rollout={}), set(), None, id="serverless-default-rollout"),
    pytest.param(
        serverless(serverless=SERVERLESS, rollout={"alarms": ["a"]}),
        {("$.rollout", "rollout-unused", "warning")},
        "serverless",
        id="serverless-rollout-alarms-are-ignored",
    ),
    pytest.param(
        serverless(serverless=SERVERLESS, instance_count=2),
        {("$.instance_count", "serverless-ignored", "warning")},
        "serverless",
        id="serverless-instance-count-is-ignored",
    ),
    pytest.param(
        shadow(shadow_variant={"prod": {"name": "challenger"}, "dev": None, "staging": None}),
        {("$.shadow_variant.prod", "model-source", "error")},
        "model_package_name",
        id="shadow-without-a-model",
    ),
    pytest.param(
        shadow(shadow_variant={"prod": {"name": "AllTraffic", **SHADOW}, "dev": None, "staging": None}),
        {("$.shadow_variant.prod.name", "duplicate", "error")},
        "own name",
        id="shadow-named-like-the-production-variant",
    ),
    pytest.param(
        shadow(shadow_variant={"prod": {"model_package_name": "fraud-scorer"}, "dev": None, "staging": None}),
        {("$.shadow_variant.prod.model_package_name", "unpinned-model", "error")},
        "version ARN",
        id="shadow-group-in-prod",
    ),
    pytest.param(
        shadow(shadow_variant={"prod": None, "dev": {"model_package_name": "fraud-scorer"}, "staging": None}),
        set(),
        None,
        id="shadow-group-in-dev-is-fine",
    ),
    pytest.param(
        shadow(
            production_variants={
                "dev": [{"name": "a"}],
                "staging": [{"name": "a"}],
                "prod": [{"name": "a"}, {"name": "b", "model_package_name": MP7}],
            }
        ),
        {("$.production_variants.prod", "shadow-excluded", "error")},
        "API_CreateEndpointConfig",
        id="shadow-beside-two-production-variants",
    ),
    pytest.param(
        shadow(
            shadow_variant={
                "prod": {**SHADOW, "inference_instance": "ml.inf1.xlarge"},
                "dev": None,
                "staging": None,
            }
        ),
        {("$.shadow_variant.prod", "shadow-excluded", "error")},
        "shadow-tests-exclusions",
        id="shadow-on-inf1",
    ),
    pytest.param(
        serverless(
            serverless=None,
            model_framework=None,
            model_framework_version=None,
            model_artifact_location=None,
            model_package_name=MP7,
            shadow_variant={"model_artifact_location": "s3://models/challenger/model.tar.gz"},
        ),
        {("$.shadow_variant.model_artifact_location", "model-source", "error")},
        "custom_image_uri",
        id="shadow-artifact-without-an-image",
    ),
]

CASES += [
    pytest.param(async_(), set(), None, id="the-async-example-is-clean"),
    pytest.param(
        async_(async_inference={**ASYNC, "scale_to_zero": True}, autoscaling=None),
        {("$.async_inference.scale_to_zero", "async-scale-to-zero", "error")},
        "async-inference-autoscale",
        id="scale-to-zero-without-autoscaling",
    ),
    pytest.param(
        async_(
            async_inference={**ASYNC, "scale_to_zero": True},
            autoscaling={"min_capacity": 1, "max_capacity": 2},
        ),
        {("$.autoscaling.min_capacity", "async-scale-to-zero", "error")},
        "remove min_capacity",
        id="scale-to-zero-with-a-minimum",
    ),
    pytest.param(
        async_(async_inference={**ASYNC, "scale_to_zero": False}, autoscaling=None),
        set(),
        None,
        id="async-without-scale-to-zero-needs-no-autoscaling",
    ),
    pytest.param(
        async_(
            serverless={"memory_size_mb": 1024, "max_concurrency": 1}, autoscaling=None, async_inference=ASYNC
        ),
        {("$.async_inference", "serverless-excluded", "error")},
        "async-inference.html",
        id="async-with-serverless",
    ),
    pytest.param(
        async_(shadow_variant={"model_artifact_location": "s3://models/next/model.tar.gz"}),
        {("$.shadow_variant", "shadow-excluded", "error")},
        "shadow-tests-exclusions",
        id="async-with-shadow",
    ),
]


def mme(**changes: Any) -> dict[str, Any]:
    """claims-async as a synchronous multi-model endpoint, with changes."""
    return async_(
        async_inference=None, autoscaling=None, model_artifact_location=None, multi_model=MME, **changes
    )


CASES += [
    pytest.param(mme(), set(), None, id="multi-model-needs-no-artifact"),
    pytest.param(
        mme(model_package_name=MP7),
        {("$.multi_model", "multi-model-source", "error")},
        "model_package_name",
        id="multi-model-with-a-registry-package",
    ),
    pytest.param(
        mme(custom_image_uri=None, model_package_name=MP7),
        {("$.multi_model", "multi-model-source", "error")},
        "multi-model contract",
        id="multi-model-without-an-image",
    ),
    pytest.param(
        mme(production_variants=[{"name": "a"}, {"name": "b"}]),
        {("$.production_variants", "multi-model-excluded", "error")},
        "one production variant",
        id="multi-model-with-two-variants",
    ),
    pytest.param(
        mme(inference_instance="ml.g5.xlarge"),
        {("$.inference_instance", "multi-model-gpu", "warning")},
        "multi-model-support",
        id="multi-model-on-a-gpu-warns",
    ),
    pytest.param(
        mme(serverless={"memory_size_mb": 1024, "max_concurrency": 1}),
        {("$.multi_model", "serverless-excluded", "error")},
        "serverless-endpoints",
        id="multi-model-with-serverless",
    ),
    pytest.param(
        mme(shadow_variant={"model_artifact_location": "s3://models/next/model.tar.gz"}),
        {("$.shadow_variant", "shadow-excluded", "error")},
        "shadow-tests-exclusions",
        id="multi-model-with-shadow",
    ),
]


def test_multi_model_is_for_custom_containers_only(tmp_repo: TmpRepo) -> None:
    config = serverless(serverless=None, multi_model=MME)
    findings = validate_findings(tmp_repo, config)
    assert [f for f in findings if f["severity"] == "error"] == []
    (ignored,) = [f for f in findings if f["path"] == "$.multi_model"]
    assert ignored["severity"] == "warning" and "is ignored" in ignored["message"]


@pytest.mark.parametrize("config, expected, hint", CASES)
def test_variant_kind_findings(tmp_repo: TmpRepo, config: dict, expected: set, hint: str | None) -> None:
    findings = validate_findings(tmp_repo, config)
    got = {(f["path"], f["code"], f["severity"]) for f in findings if f["code"] in CODES}
    assert got == expected, findings
    if hint:
        assert any(hint in f["hint"] for f in findings if f["code"] in CODES), findings


@pytest.mark.parametrize("where", ["main", "shadow"])
def test_a_shadow_beside_an_instance_type_of_the_wrong_type_is_a_finding_not_a_crash(
    tmp_repo: TmpRepo, where: str
) -> None:
    """An object where an instance type belongs (found by the fuzz test): the schema's finding, and the
    shadow's Inf1 check compares strings only (it used to put the object in a set: TypeError)."""
    config = example("fraud-shadow")
    if where == "main":
        config["inference_instance"] = {}
    else:
        config["shadow_variant"] = {**SHADOW, "inference_instance": {}}
    findings = validate_findings(tmp_repo, config)
    assert any(f["path"].endswith("inference_instance") for f in findings), findings
