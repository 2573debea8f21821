"""References between pipelines, found in one place: validate checks them, plan orders deploys by
them (issue 15: a stack that refers to another pipeline's resources deploys after it).

Two kinds of reference exist:

- ``triggers.monitor_violations`` of a model training pipeline names model monitor pipelines by
  id; its EventBridge rule watches their violation alarms (validate: rules/types.retrain_references).
- ``endpoint_name`` of a model monitor names the endpoint it watches. When a real-time pipeline of
  the repository serves that endpoint in the stage, the monitor depends on it: a monitoring
  schedule watches an existing endpoint's captured data
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMonitoringSchedule.html),
  so creating the monitor first fails on real AWS (moto does not check). The endpoint a real-time
  pipeline serves is computed here once, for validate's duplicate check too.

A model package group is also shared (a training pipeline registers into it, an endpoint deploys a
version of it), but plan resolves the version before CloudFormation runs, so no stack refers to the
other's resources: no deploy order follows from it.

REFERENCE_KINDS lists, per kind, which pipeline types may refer and which may be referred to. That
type graph is acyclic (tests/unit/config/test_references.py), so references can't form a cycle:
training pipeline -> monitor -> real-time endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from mlops_gitops import names


class _Config(Protocol):  # config.validate.PipelineConfig (not imported: validate imports us)
    pipeline_id: str
    stages: tuple[str, ...]
    by_stage: dict[str, dict[str, Any]]

    @property
    def pipeline_type(self) -> str: ...


def is_realtime(pipeline_type: str) -> bool:
    return pipeline_type.startswith("byom_realtime")


def is_monitor(pipeline_type: str) -> bool:
    return pipeline_type.endswith("_monitor")


def is_training_pipeline(pipeline_type: str) -> bool:
    return pipeline_type == "model_training_pipeline"


# kind -> (may refer, may be referred to)
REFERENCE_KINDS: dict[str, tuple[Callable[[str], bool], Callable[[str], bool]]] = {
    "triggers.monitor_violations": (is_training_pipeline, is_monitor),
    "endpoint_name": (is_monitor, is_realtime),
}


class Reference(NamedTuple):
    """``pipeline_id`` (the dependant) refers to ``target`` (the dependency) through ``kind``."""

    pipeline_id: str
    target: str
    kind: str


def monitor_violations(config: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(index, pipeline id) of each id in triggers.monitor_violations; other shapes are the schema's."""
    triggers = config.get("triggers")
    refs = triggers.get("monitor_violations") if isinstance(triggers, dict) else None
    if not isinstance(refs, list):
        return []
    return [(index, ref) for index, ref in enumerate(refs) if isinstance(ref, str)]


def served_endpoint(values: Mapping[str, Any], stack_prefix: str, pipeline_id: str, stage: str) -> str:
    """The endpoint a real-time pipeline serves in ``stage`` (``values``: its config as the stage
    sees it): endpoint_name, else the default <stack_prefix>-<pipeline-id>-<stage>."""
    return values.get("endpoint_name") or names.resource_base_name(stack_prefix, pipeline_id, stage)


def stage_references(configs: Iterable[_Config], stack_prefix: str, stage: str) -> list[Reference]:
    """Every reference between pipelines that both deploy to ``stage``, sorted."""
    present = {c.pipeline_id: c for c in configs if stage in c.stages}
    endpoints: dict[str, str] = {}
    for cfg in sorted(present.values(), key=lambda c: c.pipeline_id):
        if is_realtime(cfg.pipeline_type):
            name = served_endpoint(cfg.by_stage[stage], stack_prefix, cfg.pipeline_id, stage)
            endpoints.setdefault(name.lower(), cfg.pipeline_id)  # a clash is validate's finding
    out: set[Reference] = set()
    for cfg in present.values():
        ptype, values = cfg.pipeline_type, cfg.by_stage[stage]
        if is_training_pipeline(ptype):
            for _, ref in monitor_violations(values):
                if ref in present and is_monitor(present[ref].pipeline_type):
                    out.add(Reference(cfg.pipeline_id, ref, "triggers.monitor_violations"))
        if is_monitor(ptype) and isinstance(values.get("endpoint_name"), str):
            owner = endpoints.get(values["endpoint_name"].lower())
            if owner is not None:
                out.add(Reference(cfg.pipeline_id, owner, "endpoint_name"))
    return sorted(out)


def type_depends_on(dependant: str, dependency: str) -> bool:
    """Whether a pipeline of type ``dependant`` may refer to one of type ``dependency``: the order
    of deletes, whose configs are gone (dependants are deleted first)."""
    return any(
        may_refer(dependant) and referred(dependency) for may_refer, referred in REFERENCE_KINDS.values()
    )
