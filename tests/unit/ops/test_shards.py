"""Shard assignment of a fanned-out deploy (ops.shards, issue 17): stable (a hash of a stable key,
not of list order), dependency groups kept whole, deletes left to the final step; the summary of
the shards' records."""

from __future__ import annotations

import json
import random

import pytest

from mlops_gitops.core.plan import PlanItem
from mlops_gitops.ops import shards
from mlops_gitops.ops.shards import Shard, ShardRecord
from mlops_gitops.ops.waves import Outcome


def item(pid: str, action: str = "create", depends_on: tuple[str, ...] = ()) -> PlanItem:
    return PlanItem("dev", f"mlops-{pid}-dev", action, pid, depends_on=list(depends_on))


def many(n: int) -> list[PlanItem]:
    items = [item(f"p{i:04d}") for i in range(n)]
    # chains of monitors on endpoints, and a training pipeline on two monitors
    items += [item(f"m{i:04d}", depends_on=(f"p{i:04d}",)) for i in range(0, n, 7)]
    items += [item(f"t{i:04d}", depends_on=(f"m{i:04d}", f"m{i + 7:04d}")) for i in range(0, n - 7, 49)]
    return items


def test_assignment_does_not_depend_on_list_order() -> None:
    items = many(300)
    shuffled = items[:]
    random.Random(7).shuffle(shuffled)
    assert shards.assign(items, 4) == shards.assign(shuffled, 4)


def test_an_added_unrelated_pipeline_moves_nothing_else() -> None:
    items = many(300)
    before = shards.assign(items, 4)
    after = shards.assign(items + [item("zz-new")], 4)
    assert {k: v for k, v in after.items() if k != "mlops-zz-new-dev"} == before


@pytest.mark.parametrize("count", [2, 3, 8])
def test_every_dependency_group_lands_in_one_shard(count: int) -> None:
    items = many(500)
    where = shards.assign(items, count)
    by_id = {i.pipeline_id: where[i.stack_name] for i in items}
    for i in items:
        for dep in i.depends_on:
            assert by_id[i.pipeline_id] == by_id[dep], (i.pipeline_id, dep)
    # t0000 joins p0000 and p0007 through their monitors
    assert by_id["t0000"] == by_id["p0000"] == by_id["p0007"]


def test_shards_partition_the_stage_and_spread_it() -> None:
    items = many(1000)
    parts = [shards.owned(items, Shard(i, 4)) for i in range(1, 5)]
    names = [i.stack_name for part in parts for i in part]
    assert sorted(names) == sorted(i.stack_name for i in items), "each stack in exactly one shard"
    assert min(len(p) for p in parts) > len(items) / 4 * 0.7, "no shard starves"


def test_deletes_belong_to_no_shard_but_to_the_final_step() -> None:
    items = [item("a"), item("gone", "delete"), item("gone-monitor", "delete")]
    for i in range(1, 4):
        assert all(x.action != "delete" for x in shards.owned(items, Shard(i, 3)))
    assert [x.pipeline_id for x in shards.deletes(items)] == ["gone", "gone-monitor"]
    assert shards.assign(items, 3)["mlops-gone-dev"] == 0


def test_the_shard_of_a_key_is_the_same_in_every_process() -> None:
    """Python's hash() of a str changes per process (PYTHONHASHSEED); a shard must not."""
    import subprocess
    import sys

    code = "from mlops_gitops.ops.shards import shard_of; print([shard_of(f'p{i}', 4) for i in range(60)])"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": "scripts"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(seen) == 1
    assert len(set(json.loads(seen.pop()))) == 4, "every shard gets keys"


def test_a_record_round_trips_and_a_foreign_object_is_none() -> None:
    outcome = Outcome(item("a"), "created", "3 resource change(s)")
    record = ShardRecord.of("dev", Shard(2, 3), "b-1", "c" * 40, [outcome], findings=1)
    assert ShardRecord.from_json(record.to_json()) == record
    assert ShardRecord.from_json(b"{}") is None and ShardRecord.from_json(b"not json") is None


def test_record_keys_are_per_stage_batch_and_shard() -> None:
    assert (
        shards.record_key("dev", "mlops-deploy-dev:1a2b/x y", Shard(2, 4))
        == "shards/dev/mlops-deploy-dev-1a2b-x-y/2-of-4.json"
    )


def test_the_summary_names_a_failed_shards_pipelines_and_a_silent_ones() -> None:
    items = [item("a"), item("b"), item("c"), item("d")]
    where = {i.pipeline_id: shards.assign(items, 2)[i.stack_name] for i in items}
    one = [i for i in items if where[i.pipeline_id] == 1]
    two = sorted(i.pipeline_id for i in items if where[i.pipeline_id] == 2)
    failed = [Outcome(one[0], "failed", "boom")] + [Outcome(i, "created") for i in one[1:]]
    records = {1: ShardRecord.of("dev", Shard(1, 2), "b", "c" * 40, failed, 0), 2: None}
    summary = shards.summarize(items, 2, records, "c" * 40, [])
    assert summary.failed
    assert summary.failed_shards == {1: [one[0].pipeline_id]}
    assert summary.missing[2][1] == two
    text = shards.summary_lines(summary, 2)
    assert f"deploy: shard 1/2 failed: {one[0].pipeline_id}" in text
    assert f"state unknown: {', '.join(two)}" in text
    assert {o.result for o in summary.outcomes if o.item.pipeline_id in two} == {"unknown"}


def test_a_record_of_another_commit_counts_as_missing() -> None:
    items = [item("a")]
    record = ShardRecord.of("dev", Shard(1, 1), "b", "0" * 40, [Outcome(items[0], "created")], 0)
    summary = shards.summarize(items, 1, {1: record}, "1" * 40, [])
    assert summary.failed and "recorded commit 000000000000" in summary.missing[1][0]


def test_a_started_record_without_an_outcome_counts_as_silent() -> None:
    items = [item("a")]
    started = ShardRecord("dev", Shard(1, 1), "b", "1" * 40, (), 0, shards.STARTED)
    assert ShardRecord.from_json(started.to_json()) == started
    summary = shards.summarize(items, 1, {1: started}, "1" * 40, [])
    assert summary.failed and summary.missing[1] == (
        "started but recorded no outcome (it crashed, timed out or was stopped before recording)",
        ["a"],
    )


def test_all_shards_recorded_and_fine_is_a_success() -> None:
    items = [item("a"), item("b")]
    where = shards.assign(items, 2)
    records = {
        n: ShardRecord.of(
            "dev",
            Shard(n, 2),
            "b",
            "c" * 40,
            [Outcome(i, "created") for i in items if where[i.stack_name] == n],
            0,
        )
        for n in (1, 2)
    }
    summary = shards.summarize(items, 2, records, "c" * 40, [])
    assert not summary.failed and summary.failed_shards == {} and len(summary.outcomes) == 2


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"MLOPS_BATCH_ID": "x"}, "x"),
        (
            {"CODEBUILD_BATCH_BUILD_IDENTIFIER": "shard1", "CODEBUILD_INITIATOR": "mlops-deploy-dev:42"},
            "mlops-deploy-dev:42",
        ),
    ],
)
def test_the_batch_id(environ, expected) -> None:
    assert shards.batch_id(environ) == expected


def test_a_fanned_out_build_says_which_batch_it_belongs_to_and_from_where() -> None:
    """AWS does not document CODEBUILD_INITIATOR in the builds of a batch CodePipeline starts: each
    shard's log shows it, beside the id the batch's builds share and where that id came from."""
    pipeline = {
        "MLOPS_BATCH_ID": "5f2b6c1e-exec",
        "CODEBUILD_BATCH_BUILD_IDENTIFIER": "shard2",
        "CODEBUILD_INITIATOR": "codepipeline/mlops-pipeline",
    }
    assert shards.batch_line(pipeline) == (
        "deploy: batch 5f2b6c1e-exec (from $MLOPS_BATCH_ID; this build: "
        "CODEBUILD_BATCH_BUILD_IDENTIFIER=shard2, CODEBUILD_INITIATOR=codepipeline/mlops-pipeline)\n"
    )
    by_hand = {"CODEBUILD_BATCH_BUILD_IDENTIFIER": "summary", "CODEBUILD_INITIATOR": "mlops-deploy-dev:42"}
    assert shards.batch_line(by_hand).startswith(
        "deploy: batch mlops-deploy-dev:42 (from $CODEBUILD_INITIATOR;"
    )
    assert "CODEBUILD_BATCH_BUILD_IDENTIFIER=(unset)" in shards.batch_line({"MLOPS_BATCH_ID": "x"})


def test_no_batch_id_outside_a_batch_is_a_usage_error() -> None:
    from mlops_gitops.errors import UsageError

    with pytest.raises(UsageError, match="MLOPS_BATCH_ID"):
        shards.batch_id({"CODEBUILD_INITIATOR": "codepipeline/mlops-pipeline"})
