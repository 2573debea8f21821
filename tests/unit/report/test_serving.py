"""pr-check's model section on how an endpoint serves (issue 18): the variant kind and its cost
change, and shadow additions and removals with their instance cost. Read from config dicts (the
issue 18 contract's field names), so these run before the schema knows the fields.

Serverless is priced per use, with no instance-hours (https://aws.amazon.com/sagemaker/ai/pricing/):
the section says so and never shows a number for it. A shadow variant runs its own instances
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-shadow-deployment.html)."""

from __future__ import annotations

import re

import pytest

from mlops_gitops.report.models import HourlyPrice
from mlops_gitops.report.serving import (
    price_all,
    render_serving,
    serving_changes,
    serving_of,
    stage_value,
)

V8 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/8"
BASE = {"inference_instance": "ml.c5.xlarge", "instance_count": {"dev": 1, "prod": 2}}
PRICES = {"ml.c5.xlarge": 0.238, "ml.c5.2xlarge": 0.476}


def price(instance_type: str, region: str) -> HourlyPrice:
    if instance_type not in PRICES:
        raise LookupError(
            f"the AWS Price List has no on-demand hosting price for {instance_type} in {region}"
        )
    return HourlyPrice(PRICES[instance_type], "2026-11-01", "AWS Price List API, on-demand")


def lines(new: dict, old: dict | None, stage: str = "prod", priced: bool = True) -> list[str]:
    changes = serving_changes([(stage, "fraud", "us-east-1", new, old)])
    price_all(changes, price if priced else None, "prices are not looked up")
    return render_serving(changes)


def test_stage_values_tell_a_per_stage_map_from_one_object() -> None:
    shadow = {"model_package_name": V8}
    assert stage_value({"shadow_variant": shadow}, "shadow_variant", "prod") == shadow
    assert stage_value({"shadow_variant": {"dev": None, "prod": shadow}}, "shadow_variant", "dev") is None
    assert stage_value({"shadow_variant": {"dev": None, "prod": shadow}}, "shadow_variant", "prod") == shadow
    assert stage_value({"shadow_variant": {}}, "shadow_variant", "prod") == {}  # a shadow with every default
    assert stage_value(BASE, "instance_count", "prod") == 2
    assert serving_of(BASE, "prod").instances == ("ml.c5.xlarge", 2)


def test_serverless_is_priced_per_use_and_never_given_a_number() -> None:
    new = {**BASE, "serverless": {"prod": {"memory_size_mb": 2048, "max_concurrency": 20}, "dev": None}}
    assert lines(new, BASE) == [
        "- fraud serves serverless (2048 MB, up to 20 concurrent): priced per use (duration and memory), "
        "no instance-hours; no estimate (was 2 x ml.c5.xlarge instances).",
        "",
    ]
    provisioned = {
        **BASE,
        "serverless": {"memory_size_mb": 1024, "max_concurrency": 5, "provisioned_concurrency": 2},
    }
    (line, _) = lines(provisioned, provisioned)
    assert "2 provisioned" in line and "provisioned concurrency is billed while configured" in line
    assert not re.search(r"\$\d", line)
    assert lines(new, BASE, stage="dev") == []  # null in dev: instances, as before


def test_async_keeps_the_instance_cost_and_says_when_it_scales_to_zero() -> None:
    new = {**BASE, "async_inference": {"output_location": "s3://out/fraud/", "scale_to_zero": True}}
    assert lines(new, BASE) == [
        "- fraud serves asynchronous (results to s3://out/fraud/): instance cost as for real-time, "
        "2 x ml.c5.xlarge $0.476/h; scales to zero when idle (was 2 x ml.c5.xlarge instances).",
        "",
    ]


def test_a_shadow_added_or_removed_with_its_instance_cost() -> None:
    shadow = {"model_package_name": V8}
    added = lines({**BASE, "shadow_variant": {"dev": None, "prod": shadow}}, BASE)
    assert added == [
        "- fraud, prod: shadow added: fraud-scorer v8 on 1 x ml.c5.xlarge, 100% of requests copied, $0.238/h.",
        "",
    ]
    sized = {**shadow, "inference_instance": "ml.c5.2xlarge", "instance_count": 2, "sampling_percent": 20}
    (line, _) = lines({**BASE, "shadow_variant": sized}, BASE)
    assert line.endswith("fraud-scorer v8 on 2 x ml.c5.2xlarge, 20% of requests copied, $0.952/h.")
    removed = lines(BASE, {**BASE, "shadow_variant": shadow})
    assert removed == ["- fraud, prod: shadow removed: fraud-scorer v8 (−$0.238/h).", ""]
    unpriced = lines({**BASE, "shadow_variant": shadow}, BASE, priced=False)
    assert unpriced == [
        "- fraud, prod: shadow added: fraud-scorer v8 on 1 x ml.c5.xlarge, 100% of requests copied.",
        "No price: prices are not looked up.",
        "",
    ]


def test_a_new_pipeline_with_a_shadow_shows_it_added() -> None:
    (line, _) = lines({**BASE, "shadow_variant": {"model_artifact_location": "s3://m/v9.tar.gz"}}, None)
    assert line.startswith("- fraud, prod: shadow added: s3://m/v9.tar.gz on 1 x ml.c5.xlarge")


@pytest.mark.parametrize(
    "new, old",
    [
        (BASE, BASE),  # instances, unchanged
        ({**BASE, "inference_instance": "ml.c5.2xlarge"}, BASE),  # the model table shows instance changes
        (BASE, None),  # a new plain pipeline
    ],
)
def test_plain_instances_add_no_line(new: dict, old: dict | None) -> None:
    assert lines(new, old) == []


def test_multi_model_says_where_its_models_come_from() -> None:
    new = {**BASE, "multi_model": {"model_prefix": "s3://models/fraud/"}}
    assert lines(new, BASE) == [
        "- fraud serves multi-model: models loaded on demand from s3://models/fraud/, on the same instances.",
        "",
    ]


def test_the_keys_pr_check_and_promote_read_are_the_schemas() -> None:
    """report/serving.OWN_KEYS (also ops/shadow's) tells a value from a per-stage map: it must name
    exactly the properties the config schema defines for each field."""
    import json

    from mlops_gitops.report.serving import OWN_KEYS
    from tests.conftest import REPO_ROOT

    defs = json.loads((REPO_ROOT / "pipeline-configs" / "mlops-config.schema.json").read_text())["$defs"]
    assert {name: set(defs[name]["properties"]) for name in OWN_KEYS} == {
        k: set(v) for k, v in OWN_KEYS.items()
    }
