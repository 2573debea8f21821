"""pr-check: the comment (golden markdown files a reviewer reads as a diff), the model section
(metrics from registry reports, cost from the Price List), publishing on CodeCommit (one comment kept
up to date, the approval set) and bootstrap's approval rule template, through botocore's Stubber
(moto has no CodeCommit pull requests, approval rule templates or Price List)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mlops_gitops.aws.codecommit import CodeCommitGateway
from mlops_gitops.aws.pricing import PriceList, PriceUnavailable
from mlops_gitops.aws.sagemaker import ModelPackage
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.plan import Deployed, PlanItem, plan_stage
from mlops_gitops.core.render import StackSpec
from mlops_gitops.findings import Finding
from mlops_gitops.ops.approval_rules import check_pool, ensure, ensure_all, human_pool, template_content
from mlops_gitops.ops.review import MARKER, Review, publish, render_comment
from mlops_gitops.report.models import (
    HourlyPrice,
    enrich,
    metrics_from_metadata,
    metrics_from_report,
    model_changes,
    package_facts,
    usd,
)
from mlops_gitops.report.plan import plan_markdown
from tests.conftest import REPO_ROOT, TmpRepo, example, run_cli
from tests.conftest import git_repo as committed

GOLDEN = REPO_ROOT / "tests" / "golden" / "pr"
SRC, DST = "a" * 40, "b" * 40
REGION = "us-east-1"
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)


def arn(group: str, version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:111122223333:model-package/{group}/{version}"


def spec(
    pipeline: str, stage: str, params: dict[str, str], template: str = "realtime_inference.yaml"
) -> StackSpec:
    return StackSpec(
        pipeline,
        "byom_realtime_custom",
        stage,
        f"mlops-{pipeline}-{stage}",
        f"cloudformation/pipelines/{template}",
        "0" * 64,
        REGION,
        None,
        dict(sorted(params.items())),
        {},
        {"mlops:spec-hash": f"{pipeline}-{stage}-new"},
        [],
        stage == "prod",
        f"{pipeline}-{stage}-new",
    )


def deployed(s: StackSpec, **old: str) -> Deployed:
    return Deployed(s.stack_name, "UPDATE_COMPLETE", {"mlops:spec-hash": "old"}, {**s.parameters, **old})


FRAUD_PROD = {
    "ModelPackageArn": arn("fraud-scorer", 7),
    "InstanceType": "ml.c5.xlarge",
    "InstanceCount": "3",
    "Variant1Name": "current",
    "Variant2Name": "challenger",
    "Variant2ModelPackageArn": arn("fraud-scorer", 8),
    "Variant2InstanceType": "",
    "Variant2InstanceCount": "1",
    "Variant2Weight": "0.1",
}
FACTS = {  # what the registry holds of each version: approval, metrics report, metadata
    arn("fraud-scorer", 6): ("Approved", {"metrics": {"auc": {"value": 0.912}, "recall": {"value": 0.81}}}),
    arn("fraud-scorer", 7): ("Approved", {"metrics": {"auc": {"value": 0.931}, "recall": {"value": 0.8}}}),
    arn("fraud-scorer", 8): ("PendingManualApproval", {"metrics": {"auc": {"value": 0.94}}}),
    arn("churn-xgb", 3): ("Approved", None),
}
PRICES = {"ml.c5.xlarge": 0.238, "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23}


def registry_facts(change, package_arn: str):
    approval, report = FACTS[package_arn]
    package = ModelPackage(
        package_arn,
        package_arn.split("/")[-2],
        int(package_arn.rsplit("/", 1)[-1]),
        approval,
        "Completed",
        metrics_uris=(f"s3://reports/{package_arn.rsplit('/', 2)[-2]}/{package_arn[-1]}/evaluation.json",)
        if report
        else (),
        metadata=(("map", "0.5"),) if report is None else (("metric", "auc"), ("threshold", "0.9")),
    )
    return package_facts(package, lambda uri: json.dumps(report).encode())


def price(instance_type: str, region: str) -> HourlyPrice:
    if instance_type not in PRICES:
        raise LookupError(
            f"the AWS Price List has no on-demand hosting price for {instance_type} in {region}"
        )
    return HourlyPrice(PRICES[instance_type], "2026-11-01", "AWS Price List API, on-demand")


def promotion_review() -> Review:
    """A pull request that promotes fraud-scorer v6 -> v7 in prod (3 instances instead of 2) and adds
    a challenger variant, and creates churn in dev."""
    prod = spec("fraud-ab", "prod", FRAUD_PROD)
    old = {"ModelPackageArn": arn("fraud-scorer", 6), "InstanceCount": "2", "Variant2Name": ""}
    old_prod = deployed(prod, **old)
    old_prod.parameters.pop("Variant2ModelPackageArn")
    dev = spec(
        "churn-realtime",
        "dev",
        {"ModelPackageArn": arn("churn-xgb", 3), "InstanceType": "ml.t2.medium", "InstanceCount": "1"},
    )
    items = plan_stage("dev", [dev], {}, "mlops") + plan_stage(
        "prod", [prod], {prod.stack_name: old_prod}, "mlops", True
    )
    items[1].resource_changes = [
        ("Modify", "Endpoint", "AWS::SageMaker::Endpoint", "False"),
        ("Add", "Variant2Model", "AWS::SageMaker::Model", ""),
        ("Modify", "Model", "AWS::SageMaker::Model", "True"),
    ]
    review = Review(SRC, DST, items=items, protected_touched=["prod"])
    review.findings = [
        Finding(
            "pipeline-configs/fraud-ab/mlops-config.json",
            "$",
            "model-registry",
            f"{arn('fraud-scorer', 8)} is PendingManualApproval, not Approved; stage 'prod' deploys only approved versions",
            "approve it in the Model Registry (or promote another version)",
        )
    ]
    review.models = model_changes(items)
    enrich(review.models, registry_facts, price)
    return review


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {name}: run pytest --update-golden and review the diff"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs: if intended, run pytest --update-golden"
    )


# ------------------------------------------------------------------ the comment


def test_promotion_comment_matches_its_golden_file(update_golden: bool) -> None:
    body = render_comment(promotion_review(), "mlops-human-approval")
    check_golden("promotion.md", body, update_golden)
    assert body.startswith(MARKER + "\n")
    # What a reviewer must see, whatever the layout becomes:
    assert "| fraud-ab | current | `fraud-scorer` v6 → **v7** | Approved | auc 0.912 → 0.931 (+0.019)" in body
    assert "recall 0.81 → 0.8 (−0.01)" in body
    assert "2 × ml.c5.xlarge → **3 × ml.c5.xlarge** | $0.476 → $0.714/h (+$0.238/h) |" in body
    assert (
        "| fraud-ab | challenger | `fraud-scorer` **v8** (new) | ⚠️ PendingManualApproval | auc 0.94" in body
    )
    assert "REPLACES Model (AWS::SageMaker::Model)" in body
    assert "❌ 1 finding" in body and "changes **prod**: it needs a person's approval" in body
    assert "effective 2026-11-01" in body


def test_findings_stop_the_plan_and_the_comment_says_what_to_fix(update_golden: bool) -> None:
    review = Review(SRC, DST, planned=False)
    review.findings = [
        Finding(
            "pipeline-configs/churn/mlops-config.json",
            "$.inference_instance.prod",
            "instance-type",
            "'ml.m5.hugeee' is not a SageMaker instance type",
            "did you mean 'ml.m5.large'?",
        ),
        Finding("pipeline-configs/churn/mlops-config.json", "$.owner", "x", "unused", "", "warning"),
    ]
    body = render_comment(review)
    check_golden("findings.md", body, update_golden)
    assert not review.clean and "Nothing was planned" in body


def test_no_pipeline_change_is_said_plainly(update_golden: bool) -> None:
    body = render_comment(Review(SRC, DST))
    check_golden("nothing.md", body, update_golden)
    assert "✅ no findings" in body


def test_a_long_plan_is_cut_to_the_comment_limit_with_a_pointer_to_the_log() -> None:
    body = render_comment(promotion_review(), limit=1500)
    assert len(body) <= 1500 and body.endswith("the whole of it is in the pr-check build log.\n")


def test_plan_markdown_alone_shows_versions_and_instances_without_registry_facts() -> None:
    review = promotion_review()
    text = plan_markdown(review.items)
    assert "| fraud-ab | current | `fraud-scorer` v6 → **v7** | not looked up | not looked up |" in text
    assert "Registry approval, metrics and prices are read by `mlopsctl pr-check`" in text


def test_an_update_that_moves_no_model_has_no_model_section() -> None:
    s = spec("fraud-ab", "prod", FRAUD_PROD)
    items = plan_stage("prod", [s], {s.stack_name: deployed(s, DataCaptureUri="s3://old")}, "mlops")
    assert items[0].action == "update" and model_changes(items) == []
    assert "#### Models" not in plan_markdown(items)


# ------------------------------------------------------------------ variant kinds and shadows (issue 18)

FRAUD_CONFIG = {  # the issue 18 contract's fields, as config dicts (the schema gets them on another branch)
    "pipeline_type": "byom_realtime_custom",
    "model_package_name": {"dev": "fraud-scorer", "prod": arn("fraud-scorer", 7)},
    "inference_instance": "ml.m5.large",
    "instance_count": {"dev": 1, "prod": 3},
}
FRAUD_NEW = {
    **FRAUD_CONFIG,
    "inference_instance": "ml.c5.xlarge",
    "serverless": {"dev": {"memory_size_mb": 2048, "max_concurrency": 10}, "prod": None},
    "shadow_variant": {"dev": None, "prod": {"model_package_name": arn("fraud-scorer", 8)}},
}
CHURN_ASYNC = {
    "pipeline_type": "byom_realtime_builtin",
    "inference_instance": {"dev": "ml.m5.large", "prod": "ml.m5.xlarge"},
    "async_inference": {"output_location": "s3://churn-results/out/", "scale_to_zero": True},
    "shadow_variant": {"dev": {"model_artifact_location": "s3://models/churn/v4.tar.gz"}, "prod": None},
}


def serving_review() -> Review:
    """A pull request that makes fraud-ab serverless in dev and adds a shadow in prod, and removes
    churn's dev shadow; the plan's updates are whatever the template's parameters say."""
    from mlops_gitops.report.serving import price_all, serving_changes

    items = []
    for stage in ("dev", "prod"):
        s = spec("fraud-ab", stage, {"InstanceType": "ml.c5.xlarge"})
        items += plan_stage(stage, [s], {s.stack_name: deployed(s, InstanceType="ml.m5.large")}, "mlops")
    churn_old = {**CHURN_ASYNC}
    churn_new = {**CHURN_ASYNC, "shadow_variant": None}
    review = Review(SRC, DST, items=items)
    review.serving = serving_changes(
        [
            ("dev", "fraud-ab", REGION, FRAUD_NEW, FRAUD_CONFIG),
            ("dev", "churn-realtime", REGION, churn_new, churn_old),
            ("prod", "fraud-ab", REGION, FRAUD_NEW, FRAUD_CONFIG),
        ]
    )
    price_all(review.serving, price)
    review.models = model_changes(items)
    serverless = {(c.stage, c.pipeline_id) for c in review.serving if c.new.kind == "serverless"}
    for change in review.models:  # as ops.models.looked_up_models marks them
        change.per_use = (change.stage, change.pipeline_id) in serverless
    enrich(review.models, registry_facts, price)
    return review


def test_variant_kinds_and_shadows_in_the_model_section(update_golden: bool) -> None:
    body = render_comment(serving_review())
    check_golden("variant-kinds.md", body, update_golden)
    assert (
        "- fraud-ab serves serverless (2048 MB, up to 10 concurrent): priced per use (duration and memory), "
        "no instance-hours; no estimate (was 1 x ml.m5.large instances)." in body
    )
    assert (
        "- fraud-ab, prod: shadow added: fraud-scorer v8 on 1 x ml.c5.xlarge, 100% of requests copied, $0.238/h."
        in body
    )
    assert "- churn-realtime, dev: shadow removed: s3://models/churn/v4.tar.gz (−$0.115/h)." in body
    assert "scales to zero when idle" in body
    # the serverless variant's cost cell: per use, never a number for it
    assert "| 1 × ml.m5.large → **1 × ml.c5.xlarge** | priced per use (was $0.115/h) |" in body
    assert "| 1 × ml.m5.large → **1 × ml.c5.xlarge** | $0.115 → $0.238/h (+$0.123/h) |" in body  # prod


def test_serverless_variants_are_not_priced_by_the_hour() -> None:
    from mlops_gitops.ops.models import looked_up_models
    from mlops_gitops.report.serving import serving_changes

    s = spec("fraud-ab", "dev", {"InstanceType": "ml.c5.xlarge"})
    items = plan_stage("dev", [s], {s.stack_name: deployed(s, InstanceType="ml.m5.large")}, "mlops")
    serving = serving_changes([("dev", "fraud-ab", REGION, FRAUD_NEW, FRAUD_CONFIG)])

    class StandIn:  # no Price List: the cell still says per use, not n/a
        endpoint_url, region = "http://127.0.0.1:5000", REGION

    (change,) = looked_up_models(items, lambda stage: None, StandIn(), serving)
    assert change.per_use and change.new_price is None
    assert "| priced per use |" in plan_markdown(items, [change])


def test_pr_check_reads_kinds_and_shadows_from_the_configs_here_and_at_the_destination(
    tmp_repo: TmpRepo,
) -> None:
    from mlops_gitops.ops.models import looked_up_serving

    tmp_repo.write("fraud-ab", json.dumps(FRAUD_CONFIG, indent=2))
    root = tmp_repo.root
    committed(root, "base")
    tmp_repo.write("fraud-ab", json.dumps(FRAUD_NEW, indent=2))  # the pull request's change
    items = []
    for stage in ("dev", "prod"):
        s = spec("fraud-ab", stage, {"InstanceType": "ml.c5.xlarge"})
        items += plan_stage(stage, [s], {s.stack_name: deployed(s, InstanceType="ml.c5.large")}, "mlops")

    class StandIn:  # an AwsContext pointed at a local stand-in: no Price List
        endpoint_url, region = "http://127.0.0.1:5000", REGION

    changes = looked_up_serving(items, root, "main", StandIn())
    assert [(c.stage, c.new.kind, c.old.kind if c.old else None) for c in changes] == [
        ("dev", "serverless", "instances"),
        ("prod", "instances", "instances"),
    ]
    assert (
        changes[1].new.shadow == {"model_package_name": arn("fraud-scorer", 8)}
        and changes[1].old.shadow is None
    )
    assert "a stand-in for AWS has no AWS Price List" in changes[1].price_note


# ------------------------------------------------------------------ hostile values


# Values that try to end a code span or a table cell, insert HTML or forge a heading: each is valid
# where it comes from (an S3 key, a metric name in a report, a stack status reason, a file name).
EVIL = "a`b``c|d<script>alert(1)</script></details>&amp;\n\n## mlops-gitops check: ✅ no findings\n"


def hostile_review() -> Review:
    params = {
        "ModelPackageArn": arn("evil", 1),
        "InstanceType": "ml.m5.large",
        "InstanceCount": "1",
        "Variant1Name": "v|<b>" + EVIL,
        "DataCaptureUri": "s3://bucket/`key`|" + EVIL,
        "Weird|Key`": EVIL,
    }
    dev = spec("evil", "dev", params)
    items = plan_stage("dev", [dev], {}, "mlops")
    items.append(
        PlanItem(
            "dev",
            "mlops-busy-dev",
            "wait",
            "busy",
            status="UPDATE_IN_PROGRESS",
            reasons=["Resource handler returned message: " + EVIL],  # a stack status reason
        )
    )
    review = Review(SRC, DST, items=items, protected_touched=["dev"])
    review.findings = [
        Finding(f"pipeline-configs/x`y|z{EVIL}/mlops-config.json", f"$['{EVIL}']", "c", EVIL, EVIL),
        Finding("pipeline-configs/w/mlops-config.json", "$.owner", "w", "- " + EVIL, "", "warning"),
    ]
    review.notes = [EVIL, "1. " + EVIL]
    review.models = model_changes(items)

    def facts(change, package_arn: str):
        package = ModelPackage(
            package_arn,
            "evil",
            1,
            "Pending<img src=x onerror=alert(1)>|",
            "Completed",
            metrics_uris=("s3://reports/evil.json",),
            metadata=((f"meta{EVIL}", "0.5"),),
        )
        report = {"metrics": {EVIL: {"value": 0.9}, "auc|`": {"value": 0.8}}}
        return package_facts(package, lambda uri: json.dumps(report).encode())

    def no_price(instance_type: str, region: str) -> HourlyPrice:
        raise LookupError(EVIL)

    enrich(review.models, facts, no_price)
    return review


def _without_code_spans(line: str) -> str:
    """The line with its code spans taken out (CommonMark: a backtick run not escaped by a
    backslash opens a span that the next run of the same length closes); fails on a run that
    opens a span no run closes, which is what a value breaking out of its span leaves."""
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\":
            out.append(line[i : i + 2])
            i += 2
            continue
        if line[i] != "`":
            out.append(line[i])
            i += 1
            continue
        run = re.match(r"`+", line[i:]).group()
        close = re.compile(rf"(?<!`){run}(?!`)").search(line, i + len(run))
        assert close, f"an unclosed code span in {line!r}"
        out.append("CODE")
        i = close.end()
    return "".join(out)


def assert_structure(body: str, headings: list[str], rows: dict[int, int], items: int) -> None:
    """Exactly these headings, table rows with these many cells (columns -> rows), these many list
    items, no HTML but <br> (and the marker), every code span closed."""
    lines = body.split("\n")
    assert [line for line in lines if line.startswith("#")] == headings
    cells: dict[int, int] = {}
    for line in lines:
        bare = _without_code_spans(line)
        html = re.findall(r"<[^>]*>?", bare)
        assert all(tag in ("<br>", MARKER) for tag in html), (line, html)
        if line.startswith("|"):
            count = len(re.findall(r"(?<!\\)\|", line)) - 1  # GFM: \| never splits a cell
            cells[count] = cells.get(count, 0) + 1
    assert cells == rows
    assert sum(1 for line in lines if line.startswith("- ")) == items


def test_hostile_values_stay_inside_their_code_spans_cells_and_lines(update_golden: bool) -> None:
    body = render_comment(hostile_review(), "mlops-human-approval")
    check_golden("hostile-plan.md", body, update_golden)
    assert_structure(
        body,
        headings=[
            "## mlops-gitops check: ❌ 1 finding",
            "### Findings",
            "### Stage `dev`",
            "#### Models in `dev`",
        ],
        rows={4: 2 + 2, 7: 2 + 1},  # header and rule + two stacks; header and rule + one variant
        items=2 + 2,  # two findings, two notes
    )
    assert "no findings" not in body.split("\n", 2)[1]
    assert "<script>" not in _without_code_spans(body) and "&lt;script&gt;" in body


def test_hostile_findings_stay_one_line_each(update_golden: bool) -> None:
    review = Review(SRC, DST, planned=False)
    review.findings = [
        Finding(f"pipeline-configs/{EVIL}/mlops-config.json", "$", "c", f"message {EVIL}", f"hint {EVIL}"),
        Finding(f"pipeline-configs/`{'`' * 5}/mlops-config.json", "$.`", "c", "</details>" * 3),
    ]
    body = render_comment(review)
    check_golden("hostile-findings.md", body, update_golden)
    assert_structure(body, ["## mlops-gitops check: ❌ 2 findings", "### Findings"], {}, 2)


# ------------------------------------------------------------------ metrics and prices


@pytest.mark.parametrize(
    "report, expected",
    [
        ({"metrics": {"mAP": {"value": 0.74}}}, {"mAP": "0.74"}),
        (
            {"binary_classification_metrics": {"accuracy": {"value": 0.9, "standard_deviation": 0.01}}},
            {"accuracy": "0.9"},
        ),
        ({"mAP": 0.7, "epochs": 30, "ok": True, "name": "x"}, {"mAP": "0.7", "epochs": "30"}),
        ([1, 2], {}),
    ],
)
def test_metrics_are_read_from_the_report_shapes_sagemaker_and_our_pipeline_write(report, expected) -> None:
    assert metrics_from_report(report) == expected


def test_numeric_metadata_are_metrics_except_thresholds_and_commits() -> None:
    metadata = [("map", "0.734"), ("threshold", "0.7"), ("git_sha", "1234567"), ("metric", "mAP")]
    assert metrics_from_metadata(metadata) == {"map": "0.734"}


def test_an_unreadable_report_is_named_not_fatal() -> None:
    package = ModelPackage("a", "g", 1, "Approved", "Completed", metrics_uris=("s3://b/k.json",))

    def denied(uri: str) -> bytes:
        raise PermissionError("AccessDenied")

    facts = package_facts(package, denied)
    assert facts.metrics == {} and "s3://b/k.json unreadable (PermissionError)" in facts.note
    assert package_facts(None, denied).approval == "not found"


@pytest.mark.parametrize(
    "value, text", [(0.115, "$0.115"), (0.23, "$0.23"), (1.2, "$1.20"), (0.05637, "$0.0564")]
)
def test_prices_keep_the_digits_the_price_list_has(value: float, text: str) -> None:
    assert usd(value) == text


def product(usd_price: str, effective: str = "2026-11-01T00:00:00Z") -> str:
    return json.dumps(
        {
            "product": {"attributes": {"instanceName": "ml.m5.large", "component": "Hosting"}},
            "terms": {
                "OnDemand": {
                    "SKU.T": {
                        "effectiveDate": effective,
                        "priceDimensions": {"SKU.T.D": {"unit": "Hrs", "pricePerUnit": {"USD": usd_price}}},
                    }
                }
            },
        }
    )


def pricing_stub():
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    return client, Stubber(client)


def price_request(instance_type: str) -> dict:
    return {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
            {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 10,
    }


def test_hosting_prices_come_from_the_price_list_once_per_instance_type() -> None:
    client, stub = pricing_stub()
    stub.add_response("get_products", {"PriceList": [product("0.1280000000")]}, price_request("ml.m5.large"))
    stub.add_response("get_products", {"PriceList": []}, price_request("ml.z9.huge"))
    stub.add_response(
        "get_products", {"PriceList": [product("1.0"), product("2.0")]}, price_request("ml.g5.xlarge")
    )
    stub.add_client_error("get_products", "AccessDeniedException", "no", 400)
    prices = PriceList(client)
    with stub:
        first = prices.hosting("ml.m5.large", "eu-west-1")
        assert prices.hosting("ml.m5.large", "eu-west-1") is first  # cached: one call
        assert (first.usd_per_hour, first.effective) == (0.128, "2026-11-01")
        with pytest.raises(PriceUnavailable, match="no on-demand hosting price for ml.z9.huge"):
            prices.hosting("ml.z9.huge", "eu-west-1")
        with pytest.raises(PriceUnavailable, match="several hosting prices"):
            prices.hosting("ml.g5.xlarge", "eu-west-1")
        with pytest.raises(PriceUnavailable, match=r"could not be read \(AccessDeniedException\)"):
            prices.hosting("ml.c5.large", "eu-west-1")
        stub.assert_no_pending_responses()


# ------------------------------------------------------------------ publishing on CodeCommit


def codecommit():
    client = boto3.client(
        "codecommit", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    return CodeCommitGateway(client), Stubber(client)


def pull_request(source: str = SRC, status: str = "OPEN") -> dict:
    return {
        "pullRequest": {
            "pullRequestId": "7",
            "title": "Promote fraud-ab to prod",
            "pullRequestStatus": status,
            "revisionId": "rev-1",
            "creationDate": WHEN,
            "pullRequestTargets": [
                {
                    "repositoryName": "mlops-gitops",
                    "sourceReference": "refs/heads/promote/fraud-ab-prod",
                    "destinationReference": "refs/heads/main",
                    "sourceCommit": source,
                    "destinationCommit": DST,
                    "mergeMetadata": {"isMerged": False},
                }
            ],
        }
    }


def comments(*items: tuple[str, str]) -> dict:
    return {
        "commentsForPullRequestData": [
            {
                "pullRequestId": "7",
                "repositoryName": "mlops-gitops",
                "beforeCommitId": DST,
                "afterCommitId": "c" * 40,
                "comments": [
                    {
                        "commentId": cid,
                        "content": content,
                        "authorArn": "arn:aws:sts::1:assumed-role/x/y",
                        "creationDate": WHEN,
                    }
                    for cid, content in items
                ],
            }
        ]
    }


def approval(state: str) -> dict:
    return {"pullRequestId": "7", "revisionId": "rev-1", "approvalState": state}


def test_first_check_posts_a_comment_and_approves_a_clean_change() -> None:
    gateway, stub = codecommit()
    review, body = Review(SRC, DST), MARKER + "\nplan"
    stub.add_response("get_pull_request", pull_request(), {"pullRequestId": "7"})
    stub.add_response("get_comments_for_pull_request", comments(("h1", "LGTM")), {"pullRequestId": "7"})
    stub.add_response(
        "post_comment_for_pull_request",
        {"comment": {"commentId": "c9", "content": body}},
        {  # no clientRequestToken: botocore fills it in after the stub has looked
            "pullRequestId": "7",
            "repositoryName": "mlops-gitops",
            "beforeCommitId": DST,
            "afterCommitId": SRC,
            "content": body,
        },
    )
    stub.add_response("update_pull_request_approval_state", {}, approval("APPROVE"))
    with stub:
        done = publish(gateway, "7", None, review, body)
        stub.assert_no_pending_responses()
    assert (done.comment, done.approval) == ("posted c9", "APPROVE")


def test_a_new_push_edits_the_same_comment_and_findings_revoke() -> None:
    gateway, stub = codecommit()
    review = Review(SRC, DST, findings=[Finding("f", "$", "c", "bad", "")])
    stub.add_response("get_pull_request", pull_request(), {"pullRequestId": "7"})
    stub.add_response(
        "get_comments_for_pull_request",
        {**comments(("old", MARKER + "\nfirst run"), ("h1", "why?")), "nextToken": "p2"},
        {"pullRequestId": "7"},
    )
    stub.add_response("get_comments_for_pull_request", comments(), {"pullRequestId": "7", "nextToken": "p2"})
    stub.add_response(
        "update_comment", {"comment": {"commentId": "old"}}, {"commentId": "old", "content": "new"}
    )
    stub.add_response("update_pull_request_approval_state", {}, approval("REVOKE"))
    with stub:
        done = publish(gateway, "7", "mlops-gitops", review, "new")
        stub.assert_no_pending_responses()
    assert (done.comment, done.approval) == ("updated old", "REVOKE")


def test_a_comment_the_check_cannot_edit_is_left_and_a_new_one_posted() -> None:
    gateway, stub = codecommit()
    stub.add_response("get_pull_request", pull_request(), {"pullRequestId": "7"})
    stub.add_response(
        "get_comments_for_pull_request", comments(("theirs", MARKER + "\ncopied")), {"pullRequestId": "7"}
    )
    stub.add_client_error("update_comment", "CommentNotCreatedByCallerException", "not yours", 400)
    stub.add_response("post_comment_for_pull_request", {"comment": {"commentId": "c2"}})
    stub.add_client_error(
        "update_pull_request_approval_state", "PullRequestCannotBeApprovedByAuthorException", "x"
    )
    with stub:
        done = publish(gateway, "7", None, Review(SRC, DST), "body")
    assert done.comment == "posted c2"
    assert done.approval == "not set: the check's role opened this pull request"


@pytest.mark.parametrize(
    "response, expected",
    [
        (pull_request(source="d" * 40), "the pull request has moved on to dddddddddddd"),
        (pull_request(status="CLOSED"), "the pull request is closed"),
    ],
)
def test_a_stale_or_closed_pull_request_is_left_alone(response: dict, expected: str) -> None:
    gateway, stub = codecommit()
    stub.add_response("get_pull_request", response, {"pullRequestId": "7"})
    with stub:  # no other call: nothing posted, no approval changed
        done = publish(gateway, "7", None, Review(SRC, DST), "body")
        stub.assert_no_pending_responses()
    assert expected in done.comment and expected in done.approval


def test_an_unexpected_codecommit_error_propagates() -> None:
    gateway, stub = codecommit()
    stub.add_client_error("get_pull_request", "PullRequestDoesNotExistException", "no PR 7", 400)
    with stub, pytest.raises(gateway.client.exceptions.PullRequestDoesNotExistException):
        publish(gateway, "7", None, Review(SRC, DST), "body")


# ------------------------------------------------------------------ the CLI without AWS


def git_repo(tmp_repo: TmpRepo) -> Path:
    root = tmp_repo.root
    committed(root, "base")
    return root


def test_invalid_configs_give_exit_1_and_a_comment_of_findings_before_any_aws_call(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("churn", example("churn-batch"))
    root = git_repo(tmp_repo)
    bad = example("churn-batch")
    bad["inference_instance"] = "ml.m5.hugeee"
    tmp_repo.write("churn", bad)
    # An endpoint nothing listens on: reaching AWS would fail with exit 3, not 1.
    result = run_cli(
        "--repo-root",
        str(root),
        "pr-check",
        "--base",
        "main",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--pull-request-id",
        "7",
        "--dry-run",
    )
    assert result.code == 1, result.err
    assert "❌ 1 finding" in result.out and "ml.m5.hugeee" in result.out
    assert "Nothing was planned" in result.out
    assert "Traceback" not in result.err


def test_an_unknown_destination_is_a_usage_error(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("churn", example("churn-batch"))
    root = git_repo(tmp_repo)
    result = run_cli("--repo-root", str(root), "pr-check", "--base", "no-such-branch")
    assert result.code == 2 and "'no-such-branch' is not a commit or branch" in result.err


# ------------------------------------------------------------------ bootstrap's approval rule templates


ENV = Environments.from_data(
    {
        "stack_prefix": "ml",
        "stages": [{"name": "dev"}, {"name": "prod"}],
        "orchestrator": {"branch": "trunk", "repository_name": "configs"},
    }
)
ACCOUNT = "111122223333"
BUILD_POOL = [f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-pr-check-build/*"]
PEOPLE = [f"arn:aws:iam::{ACCOUNT}:user/*", f"arn:aws:sts::{ACCOUNT}:federated-user/*"]


def template(name: str, content: str) -> dict:
    return {
        "approvalRuleTemplate": {
            "approvalRuleTemplateName": name,
            "approvalRuleTemplateContent": content,
            "ruleContentSha256": "sha-1",
        }
    }


def stub_any():
    from botocore.stub import ANY

    return ANY


def _creates(stub: Stubber, name: str, content: str) -> None:
    stub.add_client_error(
        "get_approval_rule_template", "ApprovalRuleTemplateDoesNotExistException", "none", 400
    )
    stub.add_response(
        "create_approval_rule_template",
        template(name, content),
        {
            "approvalRuleTemplateName": name,
            "approvalRuleTemplateContent": content,
            "approvalRuleTemplateDescription": stub_any(),
        },
    )
    stub.add_response(
        "list_associated_approval_rule_templates_for_repository",
        {"approvalRuleTemplateNames": []},
        {"repositoryName": "configs"},
    )
    stub.add_response(
        "associate_approval_rule_template_with_repository",
        {},
        {"approvalRuleTemplateName": name, "repositoryName": "configs"},
    )


def test_two_rules_with_their_own_pools_are_created_and_associated() -> None:
    """Security review finding: one rule of two approvals from anyone was met by two pr-check
    builds of one pull request (two sessions of one role). Each approval now has its own pool."""
    _, stub = codecommit()
    _creates(stub, "ml-check-approval", template_content("trunk", BUILD_POOL))
    _creates(stub, "ml-human-approval", template_content("trunk", PEOPLE))
    gateway = CodeCommitGateway(stub.client)
    with stub:
        results = ensure_all(gateway, gateway, ENV, ACCOUNT)
        stub.assert_no_pending_responses()
    assert [(r.name, r.result) for r in results] == [
        ("ml-check-approval", "created"),
        ("ml-human-approval", "created"),
    ]
    assert results[1].detail.endswith(f"approvers: {', '.join(PEOPLE)}"), "who may approve is said"
    for content, pool in (
        (template_content("trunk", BUILD_POOL), BUILD_POOL),
        (template_content("trunk", PEOPLE), PEOPLE),
    ):
        doc = json.loads(content)
        assert doc["DestinationReferences"] == ["refs/heads/trunk"]
        assert doc["Statements"] == [
            {"Type": "Approvers", "NumberOfApprovalsNeeded": 1, "ApprovalPoolMembers": pool}
        ]


def test_the_persons_pool_never_admits_the_build() -> None:
    build_session = f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-pr-check-build/AWSCodeBuild-1"
    from fnmatch import fnmatchcase

    assert not any(fnmatchcase(build_session, p) for p in human_pool(ENV, ACCOUNT))
    assert all(fnmatchcase(build_session, p) for p in check_pool(ENV, ACCOUNT))
    for leaky in (f"arn:aws:sts::{ACCOUNT}:assumed-role/*", f"arn:aws:iam::{ACCOUNT}:role/ml-pr-check-build"):
        env = Environments.from_data(
            {
                "stack_prefix": "ml",
                "stages": [{"name": "dev"}, {"name": "prod"}],
                "orchestrator": {"branch": "trunk", "repository_name": "configs", "approvers": [leaky]},
            }
        )
        _, stub = codecommit()
        gateway = CodeCommitGateway(stub.client)
        with stub:  # refused before any call
            (result,) = ensure_all(gateway, gateway, env, ACCOUNT)
        assert result.result == "failed" and "admits the pr-check build" in result.detail, leaky


def test_configured_approvers_are_the_persons_pool() -> None:
    sso = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_MLReviewers_0123/*"
    env = Environments.from_data(
        {
            "stack_prefix": "ml",
            "stages": [{"name": "dev"}],
            "orchestrator": {"branch": "trunk", "repository_name": "configs", "approvers": [sso]},
        }
    )
    assert human_pool(env, ACCOUNT) == [sso]


def test_a_changed_template_is_updated_and_an_unchanged_one_left() -> None:
    _, stub = codecommit()
    content = template_content("trunk", BUILD_POOL)
    stub.add_response(
        "get_approval_rule_template",
        template("ml-check-approval", '{"Version":"2018-11-08","Statements":[]}'),
    )
    stub.add_response(
        "update_approval_rule_template_content",
        template("ml-check-approval", content),
        {
            "approvalRuleTemplateName": "ml-check-approval",
            "newRuleContent": content,
            "existingRuleContentSha256": "sha-1",
        },
    )
    stub.add_response(
        "list_associated_approval_rule_templates_for_repository",
        {"approvalRuleTemplateNames": ["ml-check-approval"]},
    )
    stub.add_response("get_approval_rule_template", template("ml-check-approval", content))
    stub.add_response(
        "list_associated_approval_rule_templates_for_repository",
        {"approvalRuleTemplateNames": ["ml-check-approval"]},
    )
    gateway = CodeCommitGateway(stub.client)
    with stub:
        assert ensure(gateway, gateway, ENV, "ml-check-approval", content, "x").result == "updated"
        again = ensure(gateway, gateway, ENV, "ml-check-approval", content, "x")
        stub.assert_no_pending_responses()
    assert (again.result, again.detail) == ("unchanged", "associated with configs")


def test_an_endpoint_without_the_api_is_skipped_and_other_errors_fail() -> None:
    _, stub = codecommit()
    html = "<!doctype html>\n<title>500 Internal Server Error</title>"
    stub.add_client_error("get_approval_rule_template", "500", html, 500)
    stub.add_client_error("get_approval_rule_template", "AccessDeniedException", "no", 400)
    stub.add_client_error("get_approval_rule_template", "AccessDeniedException", "no", 400)
    gateway = CodeCommitGateway(stub.client)
    with stub:
        skipped = ensure_all(gateway, gateway, ENV, ACCOUNT)
        failed = ensure_all(gateway, gateway, ENV, ACCOUNT)
    assert [r.line() for r in skipped] == [
        "approval rule template ml-check-approval: skipped (the endpoint does not implement CodeCommit approval rule templates)\n"
    ]
    assert [r.result for r in failed] == ["failed", "failed"] and "AccessDeniedException" in failed[0].detail
