"""The local runner's batch builds (local.batch, issue 17) with CodeBuild's documented semantics
(https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html): depend-on
order, task variables and CODEBUILD_BATCH_BUILD_IDENTIFIER, the batch failing when a counted build
fails or does not run, ignore-failure, fast-fail, MaximumBuildsAllowed; and the local pipeline
running a BatchEnabled action through it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlops_gitops.local.batch import BatchError, order, run_batch
from mlops_gitops.local.buildspec import BuildspecError, load_buildspec
from mlops_gitops.local.buildspec.model import BatchSpec, BatchTask
from mlops_gitops.local.pipeline import Project
from tests.unit.local.test_pipeline import _build, _pipeline, _stage


def graph(*tasks: BatchTask, fast_fail: bool = False) -> BatchSpec:
    return BatchSpec("build-graph", tasks, fast_fail)


def runner(fail: set[str] = frozenset(), seen: list | None = None):
    def one(task: BatchTask, variables: dict[str, str]) -> tuple[bool, str]:
        if seen is not None:
            seen.append((task.identifier, variables))
        return task.identifier not in fail, "x"

    return one


def test_builds_run_after_what_they_depend_on_with_their_variables() -> None:
    seen: list = []
    batch = graph(
        BatchTask("summary", depend_on=("a", "b"), variables={"N": "2"}),
        BatchTask("a", variables={"SHARD": "1/2"}),
        BatchTask("b", variables={"SHARD": "2/2"}),
    )
    result = run_batch(batch, runner(seen=seen), "proj")
    assert result.status == "SUCCEEDED"
    assert [s[0] for s in seen][-1] == "summary" and {s[0] for s in seen[:2]} == {"a", "b"}
    variables = dict(seen)
    assert variables["a"]["SHARD"] == "1/2" and variables["summary"]["N"] == "2"
    assert variables["a"]["CODEBUILD_BATCH_BUILD_IDENTIFIER"] == "a"
    assert {v["CODEBUILD_INITIATOR"] for v in variables.values()} == {result.batch_id}
    assert result.batch_id.startswith("proj:")


def test_ready_builds_run_at_once() -> None:
    both = threading.Barrier(2, timeout=10)

    def one(task: BatchTask, variables: dict[str, str]) -> tuple[bool, str]:
        both.wait()  # would time out if the two shards ran one after the other
        return True, ""

    assert run_batch(graph(BatchTask("a"), BatchTask("b")), one, "p").status == "SUCCEEDED"


def test_a_failed_build_fails_the_batch_and_its_dependants_do_not_run() -> None:
    batch = graph(BatchTask("a"), BatchTask("b"), BatchTask("summary", depend_on=("a", "b")))
    result = run_batch(batch, runner(fail={"a"}), "p")
    assert result.status == "FAILED"
    assert [(b.identifier, b.status) for b in result.builds] == [
        ("a", "FAILED"),
        ("b", "SUCCEEDED"),
        ("summary", "NOT_RUN"),
    ]
    assert "a did not succeed" in result.builds[2].detail


def test_an_ignored_failure_neither_fails_the_batch_nor_blocks_dependants() -> None:
    batch = graph(BatchTask("a", ignore_failure=True), BatchTask("s", depend_on=("a",)))
    result = run_batch(batch, runner(fail={"a"}), "p")
    assert result.status == "SUCCEEDED" and result.builds[1].status == "SUCCEEDED"


def test_fast_fail_stops_what_has_not_started() -> None:
    batch = graph(
        BatchTask("a"), BatchTask("b", depend_on=("a",)), BatchTask("c", depend_on=("a",)), fast_fail=True
    )
    result = run_batch(batch, runner(fail={"a"}), "p")
    assert [b.status for b in result.builds] == ["FAILED", "STOPPED", "STOPPED"]


def test_a_batch_over_the_projects_maximum_or_with_a_cycle_does_not_start() -> None:
    with pytest.raises(BatchError, match="allows 2"):
        run_batch(graph(BatchTask("a"), BatchTask("b"), BatchTask("c")), runner(), "p", max_builds=2)
    with pytest.raises(BatchError, match="cycle"):
        order(graph(BatchTask("a", depend_on=("b",)), BatchTask("b", depend_on=("a",))))
    with pytest.raises(BatchError, match="build-matrix"):
        order(BatchSpec("build-matrix"))


def test_the_batch_section_is_parsed_and_checked() -> None:
    spec = load_buildspec(
        "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      env:\n        variables:\n          X: 1\n"
        "    - identifier: b\n      depend-on: [a]\n      ignore-failure: true\nphases:\n  build:\n    commands: [echo]\n"
    )
    assert spec.batch == BatchSpec(
        "build-graph",
        (BatchTask("a", variables={"X": "1"}), BatchTask("b", depend_on=("a",), ignore_failure=True)),
    )
    with pytest.raises(BuildspecError, match="depends on 'nope', which is no build of the batch"):
        load_buildspec(
            "version: 0.2\nbatch:\n  build-graph:\n    - identifier: a\n      depend-on: [nope]\nphases: {}\n"
        )
    with pytest.raises(BuildspecError, match="expected exactly one of"):
        load_buildspec("version: 0.2\nbatch:\n  fast-fail: true\nphases: {}\n")


BATCHED = (
    "version: 0.2\nbatch:\n  build-graph:\n"
    '    - identifier: one\n      env:\n        variables:\n          PART: "1"\n'
    '    - identifier: two\n      env:\n        variables:\n          PART: "2"\n'
    "    - identifier: last\n      buildspec: last.yml\n      depend-on: [one, two]\n"
    "phases:\n  build:\n    commands:\n      - echo part=$PART of $MLOPS_STAGE in $CODEBUILD_BATCH_BUILD_IDENTIFIER\n"
)
LAST = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo last of $MLOPS_STAGE by $CODEBUILD_INITIATOR\n"


def test_a_batch_enabled_action_runs_the_projects_batch(tmp_path: Path) -> None:
    action = _build("Deploy", BatchEnabled="true")
    p = _pipeline(
        tmp_path,
        [_stage("Deploy-dev", action)],
        {"p": Project("p", "b.yml", {"MLOPS_STAGE": "dev"}, batch=True, max_batch_builds=3)},
        buildspecs={"b.yml": BATCHED, "last.yml": LAST},
    )
    execution = p.run()
    assert execution.status == "Succeeded", p.lines
    assert execution.actions[-1].summary == "batch SUCCEEDED: one SUCCEEDED, two SUCCEEDED, last SUCCEEDED"
    assert "[Deploy-dev:one] part=1 of dev in one" in p.lines
    assert "[Deploy-dev:two] part=2 of dev in two" in p.lines
    [last] = [line for line in p.lines if line.startswith("[Deploy-dev:last] last of dev by p:")]
    assert p.lines.index(last) > p.lines.index("[Deploy-dev:two] part=2 of dev in two")


def test_a_failed_shard_fails_the_action(tmp_path: Path) -> None:
    failing = BATCHED.replace("echo part=$PART", "test $PART = 1 && echo part=$PART")
    p = _pipeline(
        tmp_path,
        [_stage("Deploy-dev", _build("Deploy", BatchEnabled="true"))],
        {"p": Project("p", "b.yml", {"MLOPS_STAGE": "dev"}, batch=True)},
        buildspecs={"b.yml": failing, "last.yml": LAST},
    )
    execution = p.run()
    assert execution.status == "Failed"
    assert execution.actions[-1].summary == "batch FAILED: one SUCCEEDED, two FAILED, last NOT_RUN"


def test_batch_enabled_on_a_project_without_batch_config_fails(tmp_path: Path) -> None:
    p = _pipeline(
        tmp_path,
        [_stage("Deploy-dev", _build("Deploy", BatchEnabled="true"))],
        {"p": Project("p", "b.yml", {})},
        buildspecs={"b.yml": BATCHED, "last.yml": LAST},
    )
    execution = p.run()
    assert execution.status == "Failed" and "has no BuildBatchConfig" in execution.actions[-1].summary
