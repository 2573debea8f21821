"""Values that land inside JSON a template builds with !Sub (state machine definitions, the SageMaker
Pipeline definition) never break it: validate refuses the characters that would (a quote, a
backslash, a line break or other control character) with a finding at the config key, and whatever
it accepts renders to a definition that parses as JSON (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import validate
from mlops_gitops.core.render import render
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example, run_cli

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _definitions(root, spec) -> list[Any]:
    """Every JSON document the rendered stack embeds (state machine definitions, the SageMaker
    Pipeline definition), evaluated offline as CloudFormation would and parsed."""
    body = load_template(root, spec.template.removeprefix("cloudformation/pipelines/")).body
    evaluate = Evaluator(body, parameter_values(body, spec.parameters), {"AWS::AccountId": "111122223333"})
    out = []
    for logical_id, resource in body["Resources"].items():
        if not evaluate.present(logical_id):
            continue
        props = resource.get("Properties") or {}
        if "DefinitionString" in props:
            out.append(json.loads(evaluate(props["DefinitionString"])))  # fails if a value broke it
        if "PipelineDefinition" in props:
            out.append(json.loads(evaluate(props["PipelineDefinition"]["PipelineDefinitionBody"])))
    return out


def _render_all(tmp_repo: TmpRepo, pipeline_id: str, config: dict[str, Any]) -> list:
    tmp_repo.write(pipeline_id, config)
    tmp_repo.write("churn-data-quality", example("churn-data-quality"))  # a trigger's monitor
    root = tmp_repo.root
    import shutil

    if not (root / "cloudformation").exists():
        shutil.copytree(REPO_ROOT / "cloudformation", root / "cloudformation")
    report, configs = validate(Repo(root))
    assert not report.errors, [f.text() for f in report.errors]
    (cfg,) = [c for c in configs if c.pipeline_id == pipeline_id]
    from mlops_gitops.config.validate import Validator

    env = Validator(Repo(root)).environments()
    return [render(root, cfg, stage, env, commit=COMMIT) for stage in cfg.stages]


ODD_BUT_FINE = "caf\u00e9's-(x)-$1-%20&y=1"  # apostrophe, parentheses, dollar, non-ASCII: fine


@pytest.mark.parametrize(
    "base, changes",
    [
        ("churn-batch", {"batch_inference_data": f"s3://mlops-demo-data/in/{ODD_BUT_FINE}"}),
        ("churn-batch", {}),
        ("churn-model-quality", {"baseline_ground_truth_attribute": "truth's label $1"}),
        ("churn-model-quality", {}),
        ("churn-data-quality", {}),
        ("churn-bias", {}),
        ("churn-explainability", {}),
        ("churn-training", {}),
        ("defects-detector", {}),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v) or "example",
)
def test_embedded_json_documents_parse(tmp_repo: TmpRepo, base: str, changes: dict[str, Any]) -> None:
    specs = _render_all(tmp_repo, "p", {**example(base), **changes})
    found = [doc for spec in specs for doc in _definitions(tmp_repo.root, spec)]
    assert found, "the template embeds a JSON document"
    if changes:
        text = json.dumps(found, ensure_ascii=False)
        for value in changes.values():
            assert value.split("/")[-1] in text


@pytest.mark.parametrize(
    "base, key, value",
    [
        ("churn-batch", "batch_inference_data", 's3://mlops-demo-data/in/a"b'),
        ("churn-batch", "batch_inference_data", "s3://mlops-demo-data/in/a\nb"),
        ("churn-batch", "batch_inference_data", "s3://mlops-demo-data/in/a\\b"),
        ("churn-batch", "batch_job_output_location", "s3://mlops-demo-data/out/x\ty"),
        ("churn-model-quality", "baseline_inference_attribute", 'pred", "x": "'),
        ("churn-model-quality", "baseline_ground_truth_attribute", "label\n"),
        ("churn-model-quality", "baseline_probability_attribute", "p\\q"),
        ("churn-model-quality", "baseline_ground_truth_attribute", "{% $x %}"),
        ("churn-model-quality", "baseline_data", "s3://mlops-demo-data/base/{x}.csv"),
        ("churn-batch", "notify", ['arn:aws:sns:us-east-1:111122223333:topic"x']),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 and "\n" not in v else None,
)
def test_characters_that_break_embedded_json_are_refused_at_the_config_key(
    tmp_repo: TmpRepo, base: str, key: str, value: Any
) -> None:
    config = example(base)
    if key not in config and key != "notify":
        pytest.skip(f"{base} has no {key}")
    config[key] = value
    tmp_repo.write("p", config)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.err
    paths = {f["path"] for f in result.json["findings"] if f["severity"] == "error"}
    assert paths and all(p.startswith(f"$.{key}") for p in paths), result.json["findings"]
