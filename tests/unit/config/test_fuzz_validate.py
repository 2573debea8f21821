"""Property tests: whatever a config holds, validate answers with findings, never a crash.

Valid example configs are mutated at random (keys deleted and inserted, values replaced by random
JSON, retyped, wrapped in per-stage dicts, pipeline_type swapped) and random bytes and text are
written as a config; validate must exit 0 or 1 with a well-formed JSON report whose exit code
agrees with its findings.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CONFIGS, EXAMPLES, Result, TmpRepo, example, run_cli

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

EXAMPLE_IDS = sorted(EXAMPLES)
PIPELINE_TYPES = sorted({example(i)["pipeline_type"] for i in EXAMPLE_IDS})
FIELDS = sorted(json.loads((CONFIGS / "mlops-config.schema.json").read_text(encoding="utf-8"))["properties"])
STAGES = ["dev", "staging", "prod"]
# defects-detector names churn-data-quality as a monitor: keep it around so the unmutated
# examples are valid and mutations, not a missing neighbour, decide the findings.
COMPANIONS = {"defects-detector": ["churn-data-quality"]}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(STAGES + PIPELINE_TYPES + ["ml.m5.large", "s3://b-1/k", "True", "20", ""])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(FIELDS + STAGES), children, max_size=4)
    ),
    max_leaves=12,
)
keys = st.text(max_size=20) | st.sampled_from(FIELDS + STAGES)

MUTATIONS = ["delete", "insert", "replace", "retype", "per-stage", "pipeline_type"]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value below ``node`` (not ``node`` itself)."""
    out: list[tuple] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _objects(node: Any, prefix: tuple = ()) -> list[tuple]:
    """The paths of every object in ``node``, itself included."""
    out = [prefix] if isinstance(node, dict) else []
    return out + [p for p in _paths(node, prefix) if isinstance(_get(node, p[len(prefix) :]), dict)]


def _get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def _retype(value: Any, target: str) -> Any:
    if target == "string":
        return json.dumps(value) if not isinstance(value, str) else value
    if target == "number":
        if isinstance(value, str):
            return len(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) + 0.5
        return 1
    if target == "boolean":
        return not bool(value)
    if target == "array":
        return list(value.values()) if isinstance(value, dict) else [value]
    if target == "object":
        return {str(i): v for i, v in enumerate(value)} if isinstance(value, list) else {"value": value}
    return None


@st.composite
def mutated_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[str]]:
    pipeline_id = draw(st.sampled_from(EXAMPLE_IDS))
    config = example(pipeline_id)
    log: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(MUTATIONS))
        if kind == "pipeline_type":
            config["pipeline_type"] = draw(
                st.sampled_from(PIPELINE_TYPES) | st.text(max_size=30) | json_values
            )
            log.append(f"pipeline_type = {config['pipeline_type']!r}")
            continue
        if kind == "insert":
            where = draw(st.sampled_from(_objects(config)))
            key, value = draw(keys), draw(json_values)
            _get(config, where)[key] = value
            log.append(f"insert {where + (key,)} = {value!r}")
            continue
        paths = _paths(config)
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent, last = _get(config, path[:-1]), path[-1]
        if kind == "delete":
            del parent[last]
            log.append(f"delete {path}")
        elif kind == "replace":
            parent[last] = draw(json_values)
            log.append(f"replace {path} = {parent[last]!r}")
        elif kind == "retype":
            target = draw(st.sampled_from(["string", "number", "boolean", "array", "object", "null"]))
            parent[last] = _retype(parent[last], target)
            log.append(f"retype {path} to {target}: {parent[last]!r}")
        elif kind == "per-stage":
            stages = draw(st.lists(st.sampled_from(STAGES) | st.text(max_size=8), max_size=4, unique=True))
            parent[last] = {stage: parent[last] for stage in stages}
            log.append(f"per-stage {path} over {stages}")
    return pipeline_id, config, log


def _validate_file(pipeline_id: str, content: dict[str, Any] | str | bytes) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        repo = TmpRepo(Path(tmp) / "repo")
        for companion in COMPANIONS.get(pipeline_id, []):
            repo.write(companion, example(companion))
        repo.write(pipeline_id, content)
        return run_cli("--repo-root", str(repo.root), "validate", "--format", "json")


def _assert_well_formed(result: Result) -> list[dict[str, str]]:
    assert "Traceback" not in result.err
    assert "internal error" not in result.err, result.err
    assert result.code in (0, 1), result.err
    doc = json.loads(result.out)
    assert isinstance(doc, dict) and isinstance(doc["findings"], list)
    assert isinstance(doc["checked"], int) and doc["checked"] >= 2
    for finding in doc["findings"]:
        assert set(finding) == {"file", "path", "code", "severity", "message", "hint"}, finding
        assert all(isinstance(v, str) for v in finding.values()), finding
        assert finding["path"].startswith("$"), finding
        assert finding["severity"] in {"error", "warning"}, finding
        assert finding["code"] and finding["message"], finding
    has_error = any(f["severity"] == "error" for f in doc["findings"])
    assert result.code == (1 if has_error else 0), doc
    return doc["findings"]


@SETTINGS
@given(mutated_configs())
def test_mutated_configs_get_findings_never_a_crash(case: tuple[str, dict[str, Any], list[str]]) -> None:
    pipeline_id, config, log = case
    result = _validate_file(pipeline_id, json.dumps(config, indent=2))
    findings = _assert_well_formed(result)
    assert all(f["file"].startswith("pipeline-configs/") for f in findings), (log, findings)


@SETTINGS
@given(
    st.binary(max_size=300)
    | st.text(max_size=300).map(lambda s: s.encode("utf-8"))
    | st.text(alphabet='{}[]:,"\\ \n0123456789.eE+-truefalsnNIfiy', max_size=200).map(lambda s: s.encode())
)
def test_random_bytes_never_crash(content: bytes) -> None:
    result = _validate_file("p", content)
    findings = _assert_well_formed(result)
    if result.code == 1:
        assert any(f["file"] == "pipeline-configs/p/mlops-config.json" for f in findings)


def test_unmutated_examples_are_valid() -> None:
    # The fuzzers start from valid configs; if these drift, the fuzzers test something else.
    for pipeline_id in EXAMPLE_IDS:
        result = _validate_file(pipeline_id, example(pipeline_id))
        assert result.code == 0, (pipeline_id, result.out)
