"""Where a batch transform writes (issue 15, part 5a): per stage and per run, never the same keys.

The state machine names each run once (a Pass state) and hands that name to the job as its
TransformJobName and as the last component of its TransformOutput.S3OutputPath,
<batch_job_output_location>/<stage>/<job name>. Transform jobs write <S3OutputPath>/<input object
name>.out (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html), so
two runs, or two stages sharing one output location, would otherwise overwrite each other.
Step Functions' States.Format fills the "{}" (https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html).
moto runs no transform job, so this evaluates the rendered stack offline (cfn_eval).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import assert_fits, build_params, valid_config

TEMPLATE = "batch_inference.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
ENV = Validator(Repo(REPO_ROOT)).environments()


def _definition(params: dict[str, str]) -> dict[str, Any]:
    given = {"ModelRevision": "0" * 8, "PermissionsBoundaryArn": "", **params}
    evaluate = Evaluator(BODY, parameter_values(BODY, given), resources=lambda name, attr: f"<{name}.{attr}>")
    return json.loads(evaluate(BODY["Resources"]["StateMachine"]["Properties"]["DefinitionString"]))


def _run(definition: dict[str, Any], run_name: str) -> tuple[str, str]:
    """(job name, output path) of one run whose NameRun state produced ``run_name``."""
    first = definition["States"][definition["StartAt"]]
    assert first["Type"] == "Pass" and first["ResultPath"] == "$.run"
    assert "States.UUID()" in first["Parameters"]["name.$"], "each run gets a fresh name"
    job = definition["States"]["Transform"]["Parameters"]
    assert job["TransformJobName.$"] == "$.run.name"
    formatted = re.fullmatch(
        r"States\.Format\('([^']*)', \$\.run\.name\)", job["TransformOutput"]["S3OutputPath.$"]
    )
    assert formatted, job["TransformOutput"]
    return run_name, formatted.group(1).replace("{}", run_name)


@pytest.mark.parametrize("location", ["s3://mlops-demo-data/churn/batch-output", "s3://mlops-demo-data/out/"])
def test_each_stage_and_each_run_writes_under_its_own_prefix(tmp_repo: TmpRepo, location: str) -> None:
    cfg = valid_config(tmp_repo, "p", {**example("churn-batch"), "batch_job_output_location": location}, ENV)
    paths = set()
    for stage in ("dev", "prod"):
        params, ctx = build_params(TEMPLATE, cfg, stage, ENV)
        assert ctx.findings == []
        assert_fits(BODY["Parameters"], {"ModelRevision": "0" * 8, **params})  # render adds ModelRevision
        definition = _definition(params)
        for run_name in (f"mlops-p-{stage}-1a2b3c4d", f"mlops-p-{stage}-5e6f7a8b"):
            _, path = _run(definition, run_name)
            assert path == f"{location.rstrip('/')}/{stage}/{run_name}"
            paths.add(path)
    assert len(paths) == 4, "no two runs, in no two stages, share an output prefix"
