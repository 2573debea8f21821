"""References between pipelines (config.references): one finder for validate and plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops_gitops.config.references import (
    REFERENCE_KINDS,
    Reference,
    stage_references,
    type_depends_on,
)
from mlops_gitops.graph import find_cycle


@dataclass
class Cfg:
    pipeline_id: str
    pipeline_type: str
    values: dict[str, Any] = field(default_factory=dict)
    stages: tuple[str, ...] = ("dev", "prod")

    @property
    def by_stage(self) -> dict[str, dict[str, Any]]:
        return {s: self.values for s in self.stages}


def test_the_reference_kinds_cannot_form_a_cycle_between_pipeline_types() -> None:
    # every pipeline type the schema knows, through the type graph the kinds allow
    import json

    from tests.conftest import REPO_ROOT

    schema = json.loads((REPO_ROOT / "pipeline-configs" / "mlops-config.schema.json").read_text())
    types = schema["properties"]["pipeline_type"]["enum"]
    graph = {a: [b for b in types if type_depends_on(a, b)] for a in types}
    assert any(graph.values())  # the kinds do connect types
    assert find_cycle(graph) is None
    assert set(REFERENCE_KINDS) == {"triggers.monitor_violations", "endpoint_name"}


def test_monitors_depend_on_the_real_time_pipeline_serving_their_endpoint() -> None:
    configs = [
        Cfg("ep", "byom_realtime_builtin"),  # default endpoint name mlops-ep-<stage>
        Cfg("named", "byom_realtime_custom", {"endpoint_name": "Fraud"}),
        Cfg("mon", "byom_data_quality_monitor", {"endpoint_name": "mlops-ep-dev"}),
        Cfg("mon2", "byom_model_bias_monitor", {"endpoint_name": "fraud"}),  # names are case-blind
        Cfg("elsewhere", "byom_data_quality_monitor", {"endpoint_name": "not-ours"}),
    ]
    assert stage_references(configs, "mlops", "dev") == [
        Reference("mon", "ep", "endpoint_name"),
        Reference("mon2", "named", "endpoint_name"),
    ]


def test_retraining_depends_on_the_monitors_it_watches_in_the_same_stage_only() -> None:
    configs = [
        Cfg("train", "model_training_pipeline", {"triggers": {"monitor_violations": ["mon", "gone", 3]}}),
        Cfg("mon", "byom_data_quality_monitor", {"endpoint_name": "x"}, stages=("prod",)),
    ]
    assert stage_references(configs, "mlops", "dev") == []
    assert stage_references(configs, "mlops", "prod") == [
        Reference("train", "mon", "triggers.monitor_violations")
    ]


@pytest.mark.parametrize(
    "dependant, dependency, expected",
    [
        ("byom_data_quality_monitor", "byom_realtime_builtin", True),
        ("model_training_pipeline", "byom_model_quality_monitor", True),
        ("byom_realtime_builtin", "byom_data_quality_monitor", False),
        ("byom_batch_builtin", "data_lake", False),
    ],
)
def test_type_depends_on(dependant: str, dependency: str, expected: bool) -> None:
    assert type_depends_on(dependant, dependency) is expected
