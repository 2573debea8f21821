"""Helpers shared by the parameter-builder tests (tests/unit/core/params/test_*_params.py)."""

from __future__ import annotations

from typing import Any

from mlops_gitops.config.environments import Environments
from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.render import parameter_problem
from mlops_gitops.repo import Repo


def build_params(
    template: str, cfg: PipelineConfig, stage: str, env: Environments, region: str = "us-east-1"
) -> tuple[dict[str, str], ParamContext]:
    """The builder's parameters for one stage (and its context, whose findings tests read)."""
    ctx = ParamContext(cfg, stage, env, region)
    params, deferred = builder_for(template)(ctx)
    assert deferred == {}, "these templates defer nothing to deploy"
    return params, ctx


def valid_config(tmp_repo: Any, pipeline_id: str, config: dict, env: Environments) -> PipelineConfig:
    """Write ``config`` into the temp repository and return it validated (failing on findings)."""
    tmp_repo.write(pipeline_id, config)
    repo = Repo(tmp_repo.root)
    cfg, findings = Validator(repo).check_config(repo.configs_dir / pipeline_id / "mlops-config.json", env)
    assert cfg is not None, [f.text() for f in findings]
    return cfg


def assert_fits(declared: dict[str, dict], params: dict[str, str]) -> None:
    """Every value passes the template's constraints and every parameter without a default is given."""
    assert set(params) <= set(declared), "the builder passes only declared parameters"
    needed = {n for n, spec in declared.items() if "Default" not in spec}
    assert needed <= set(params), f"no value for {sorted(needed - set(params))}"
    for name, value in params.items():
        assert isinstance(value, str), name
        assert parameter_problem(declared[name], value) is None, (name, value)
