"""Fan-out (issue 17): a stage's deploy split over the builds of one CodeBuild batch.

Which build deploys what
    Every shard renders and plans the whole stage (the plan is cheap: one listing of stacks), then
    applies only its own part. A pipeline's shard is a hash of a stable key modulo N, never its
    position in a list: the key of a dependency-connected group of pipelines (a connected component
    of the plan's depends_on graph, from config.references) is the smallest pipeline id in it, so
    a whole group lands in one shard and deploys there in its waves, and adding an unrelated
    pipeline moves nothing else. Deletes (prune) are no shard's: they run once, in the final step,
    after every shard has ended - the order a single build keeps (ops.waves: deletes after every
    deploy, dependants first), which shards running side by side could not.

One summary, one exit status
    Each shard records its outcome (one JSON object in the stage's deploy bucket, under the batch's
    id) and exits 0 once that is written: its own table is in its log, and the batch's verdict is
    the final step's. The final step (``deploy --summary N``, a build-graph task that depends on
    every shard) prunes, reads the N records, prints one table for the stage and exits non-zero
    when a shard failed, naming the failed shard's pipelines. A shard that crashed before
    recording (killed, timed out) left no record: the summary names the pipelines it owned as
    unknown and fails the stage; the shard's own build failed too, which fails the batch in
    CodeBuild whether or not the summary ran.

One batch id per pipeline execution, and retries
    The batch's id is the CodePipeline execution id, passed by the Deploy action as
    $MLOPS_BATCH_ID (orchestrator.yaml). A retried stage runs again under the same id, so before
    it deploys anything a shard overwrites its record with a "started" one (the same key, so no
    delete right is needed): an attempt that then crashes leaves that marker, never the previous
    attempt's outcome, and the summary counts the shard as silent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mlops_gitops.core.plan import PlanItem
from mlops_gitops.errors import UsageError
from mlops_gitops.ops.waves import Outcome

MAX_SHARDS = 8  # buildspecs/deploy-shards-<N>.yml exist for N = 2..MAX_SHARDS
RECORDS_PREFIX = "shards"
BATCH_ID_VARIABLE = "MLOPS_BATCH_ID"
DONE, STARTED = "done", "started"  # ShardRecord.state


@dataclass(frozen=True)
class Shard:
    index: int  # 1..count
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N <= MAX_SHARDS; UsageError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. 2/4")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: need 1 <= I <= N <= {MAX_SHARDS}")
    return Shard(index, count)


def check_count(count: int) -> int:
    if not 1 <= count <= MAX_SHARDS:
        raise UsageError(f"--summary {count}: the number of shards is 1..{MAX_SHARDS}")
    return count


def shard_of(key: str, count: int) -> int:
    """1..count from the SHA-256 of ``key``: the same on every machine and in every run."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % count + 1


def _key(item: PlanItem) -> str:
    return item.pipeline_id or item.stack_name


def group_keys(items: Iterable[PlanItem]) -> dict[str, str]:
    """pipeline id (or stack name) -> the smallest id of its dependency-connected group, over the
    items that are not deletes (union-find on depends_on)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    live = [i for i in items if i.action != "delete"]
    for item in live:
        find(_key(item))
    present = set(parent)
    for item in live:
        for dep in item.depends_on:
            if dep in present:
                a, b = find(_key(item)), find(dep)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {node: find(node) for node in parent}


def assign(items: Iterable[PlanItem], count: int) -> dict[str, int]:
    """stack name -> its shard (1..count); deletes -> 0, the final step."""
    items = list(items)
    groups = group_keys(items)
    return {i.stack_name: 0 if i.action == "delete" else shard_of(groups[_key(i)], count) for i in items}


def owned(items: Iterable[PlanItem], shard: Shard) -> list[PlanItem]:
    """The items ``shard`` applies, in plan order."""
    items = list(items)
    where = assign(items, shard.count)
    return [i for i in items if where[i.stack_name] == shard.index]


def deletes(items: Iterable[PlanItem]) -> list[PlanItem]:
    return [i for i in items if i.action == "delete"]


# ------------------------------------------------------------------ batch identity and records


def batch_id(environ: Mapping[str, str]) -> str:
    """The id the shards and the final step of one batch share: $MLOPS_BATCH_ID - in the pipeline
    the Deploy action sets it to #{codepipeline.PipelineExecutionId}, the variable every execution
    has (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html; the
    CodeBuild action's EnvironmentVariables take variables:
    https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html).
    Else (a batch started by hand), in a CodeBuild batch build, $CODEBUILD_INITIATOR: in a batch's
    builds it names the batch (https://github.com/thii/aws-codebuild-extras/issues/3; UNCONFIRMED
    by AWS's page, https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html,
    which documents CODEBUILD_BATCH_BUILD_IDENTIFIER as set in batch builds only, and the
    initiator of a CodePipeline-started build as ``codepipeline/<pipeline>``, the same in every
    execution - why the pipeline passes the execution id)."""
    return batch_id_and_source(environ)[0]


def batch_id_and_source(environ: Mapping[str, str]) -> tuple[str, str]:
    """`batch_id` and the variable it was read from."""
    explicit = environ.get(BATCH_ID_VARIABLE, "").strip()
    if explicit:
        return explicit, BATCH_ID_VARIABLE
    if environ.get("CODEBUILD_BATCH_BUILD_IDENTIFIER") and environ.get("CODEBUILD_INITIATOR"):
        return environ["CODEBUILD_INITIATOR"], "CODEBUILD_INITIATOR"
    raise UsageError(
        "--shard and --summary run inside a CodeBuild batch build (CODEBUILD_BATCH_BUILD_IDENTIFIER "
        f"set), or with ${BATCH_ID_VARIABLE} set to one id shared by the shards and the summary"
    )


def batch_line(environ: Mapping[str, str]) -> str:
    """What a fanned-out build says of its batch, with the CodeBuild variables AWS does not document
    for a batch that CodePipeline starts (batch_id): a real deploy's log shows them."""
    batch, source = batch_id_and_source(environ)
    seen = ", ".join(
        f"{name}={environ.get(name) or '(unset)'}"
        for name in ("CODEBUILD_BATCH_BUILD_IDENTIFIER", "CODEBUILD_INITIATOR")
    )
    return f"deploy: batch {batch} (from ${source}; this build: {seen})\n"


def record_key(stage: str, batch: str, shard: Shard) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", batch).strip("-") or "batch"
    return f"{RECORDS_PREFIX}/{stage}/{safe}/{shard.index}-of-{shard.count}.json"


@dataclass(frozen=True)
class ShardRecord:
    """What one shard did: its rows (pipeline, stack, result, detail) and its findings' count."""

    stage: str
    shard: Shard
    batch: str
    commit: str
    rows: tuple[tuple[str, str, str, str], ...]
    findings: int = 0
    state: str = DONE  # STARTED: the shard's attempt began and has recorded no outcome yet

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "stage": self.stage,
                "shard": self.shard.index,
                "count": self.shard.count,
                "batch": self.batch,
                "commit": self.commit,
                "findings": self.findings,
                "state": self.state,
                "rows": [
                    dict(zip(("pipeline_id", "stack", "result", "detail"), r, strict=True)) for r in self.rows
                ],
            },
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ShardRecord | None:
        try:
            doc: Any = json.loads(data)
            return cls(
                str(doc["stage"]),
                Shard(int(doc["shard"]), int(doc["count"])),
                str(doc["batch"]),
                str(doc["commit"]),
                tuple(
                    (str(r["pipeline_id"]), str(r["stack"]), str(r["result"]), str(r["detail"]))
                    for r in doc["rows"]
                ),
                int(doc.get("findings", 0)),
                str(doc.get("state", DONE)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @classmethod
    def of(
        cls, stage: str, shard: Shard, batch: str, commit: str, outcomes: list[Outcome], findings: int
    ) -> ShardRecord:
        rows = tuple((o.item.pipeline_id or "?", o.item.stack_name, o.result, o.detail) for o in outcomes)
        return cls(stage, shard, batch, commit, rows, findings)


@dataclass
class StageSummary:
    """The stage's outcome over all shards: one outcome per stack, the shards that failed (with
    their pipelines) and those that left no usable record."""

    outcomes: list[Outcome]
    failed_shards: dict[int, list[str]]
    missing: dict[int, tuple[str, list[str]]]  # shard -> (why, its pipelines)
    findings: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.missing) or any(o.result == "failed" for o in self.outcomes)


def summarize(
    items: list[PlanItem],
    count: int,
    records: Mapping[int, ShardRecord | None],
    commit: str,
    pruned: list[Outcome],
) -> StageSummary:
    """One outcome per stack of the stage: a shard's recorded rows; for a shard without a usable
    record, its planned items as "unknown"; then the final step's deletes (``pruned``)."""
    where = assign(items, count)
    by_stack = {i.stack_name: i for i in items}
    outcomes: list[Outcome] = []
    failed: dict[int, list[str]] = {}
    missing: dict[int, tuple[str, list[str]]] = {}
    findings = 0
    for index in range(1, count + 1):
        record = records.get(index)
        mine = [i for i in items if where[i.stack_name] == index]
        why = _unusable(record, commit)
        if why is not None:
            missing[index] = (why, sorted({_key(i) for i in mine}))
            outcomes += [Outcome(i, "unknown", f"shard {index}/{count} {why}") for i in mine]
            continue
        assert record is not None
        findings += record.findings
        for pipeline_id, stack, result, detail in record.rows:
            item = by_stack.get(stack) or PlanItem(items[0].stage if items else "", stack, "?", pipeline_id)
            outcomes.append(Outcome(item, result, detail))
            if result in ("failed", "blocked") or detail.startswith("skipped: depends"):
                failed.setdefault(index, []).append(pipeline_id)
    outcomes += pruned
    return StageSummary(outcomes, failed, missing, findings)


def _unusable(record: ShardRecord | None, commit: str) -> str | None:
    if record is None:
        return "left no record (it crashed, timed out or was stopped before recording)"
    if record.state != DONE:
        return "started but recorded no outcome (it crashed, timed out or was stopped before recording)"
    if record.commit != commit:
        return f"recorded commit {record.commit[:12]}, not {commit[:12]}"
    return None


def summary_lines(summary: StageSummary, count: int) -> str:
    lines = []
    for index, pipelines in sorted(summary.failed_shards.items()):
        lines.append(f"deploy: shard {index}/{count} failed: {', '.join(pipelines)}\n")
    for index, (why, pipelines) in sorted(summary.missing.items()):
        state = ", ".join(pipelines) or "no pipelines"
        lines.append(f"deploy: shard {index}/{count} {why}; state unknown: {state}; run the deploy again\n")
    return "".join(lines)


def with_items(plan: Any, items: list[PlanItem]) -> Any:
    """``plan`` (ops.deploy.StagePlan) cut down to ``items``, with their findings only."""
    kept = {i.pipeline_id for i in items}
    return replace(plan, items=items, findings=[f for f in plan.findings if f.pipeline_id in kept])


def save_record(deployer: Any, record: ShardRecord) -> str:
    """Write ``record`` to the stage's deploy bucket (ops.deploy.Deployer's); its s3:// URI."""
    store, bucket = deployer.deploy_bucket()
    key = record_key(record.stage, record.batch, record.shard)
    store.put(bucket, key, record.to_json())
    return f"s3://{bucket}/{key}"


def mark_started(deployer: Any, stage: str, shard: Shard, batch: str, commit: str) -> str:
    """A shard's first write: its record replaced by a "started" one, so that a retry of the same
    batch id (a retried stage keeps its pipeline execution id) that crashes before recording shows
    as silent in the summary instead of with the previous attempt's outcome."""
    return save_record(deployer, ShardRecord(stage, shard, batch, commit, (), 0, STARTED))


def load_records(deployer: Any, stage: str, batch: str, count: int) -> dict[int, ShardRecord | None]:
    """shard -> its record, None when there is none (or it is not one) for this batch."""
    from mlops_gitops.aws.errors import is_missing

    store, bucket = deployer.deploy_bucket()
    out: dict[int, ShardRecord | None] = {}
    for index in range(1, count + 1):
        key = record_key(stage, batch, Shard(index, count))
        try:
            data = store.read(f"s3://{bucket}/{key}")
        except Exception as exc:
            if not is_missing(exc):
                raise
            out[index] = None
            continue
        found = ShardRecord.from_json(data)
        out[index] = found if found and found.batch == batch and found.stage == stage else None
    return out


# ------------------------------------------------------------------ the batch's buildspec

SHARD_BUILDSPEC = "buildspecs/deploy-shards-{count}.yml"
SUMMARY_BUILDSPEC = "buildspecs/deploy-summary.yml"


def batch_buildspec(count: int) -> str:
    """buildspecs/deploy-shards-<count>.yml: a build graph of ``count`` shards and the final step.

    A buildspec's batch list is static, so the number of shards can't come from environments.json
    at run time: there is one file per N, and bootstrap points each deploy project at the one
    its stage's shards name (orchestrator.yaml, Stage<k>DeployShards). Each shard's N is in its own variables,
    so a changed deploy.shards before the next bootstrap still runs a consistent batch (the old N).
    Builds: https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html -
    task ``env.variables`` override the buildspec's; ``depend-on`` starts the final step after
    every shard; no ``ignore-failure``: a shard that could not record its outcome fails the batch
    even if the final step never runs. tests/repo/test_deploy_batch.py keeps the files current."""
    check_count(count)
    shards = "".join(
        f'    - identifier: shard{i}\n      env:\n        variables:\n          MLOPS_SHARD: "{i}/{count}"\n'
        for i in range(1, count + 1)
    )
    after = ", ".join(f"shard{i}" for i in range(1, count + 1))
    return (
        f"# Generated (mlops_gitops.ops.shards.batch_buildspec({count})): a stage's deploy fanned out over\n"
        f"# {count} shards and a final step, for environments.json deploy.shards = {count}. A shard deploys\n"
        "# its part of stage $MLOPS_STAGE and records the outcome; the final step prunes, prints one\n"
        "# table for the stage and gives the batch its exit status.\n"
        "version: 0.2\n\n"
        "batch:\n"
        "  fast-fail: false\n"
        "  build-graph:\n"
        f"{shards}"
        "    - identifier: summary\n"
        f"      buildspec: {SUMMARY_BUILDSPEC}\n"
        f"      depend-on: [{after}]\n"
        "      env:\n"
        "        variables:\n"
        f'          MLOPS_SHARDS: "{count}"\n\n'
        "phases:\n"
        "  install:\n"
        "    runtime-versions:\n"
        '      python: "3.11"\n'
        "    commands:\n"
        "      - command -v mlopsctl >/dev/null 2>&1 || python -m pip install --quiet --disable-pip-version-check .\n"
        "  build:\n"
        "    commands:\n"
        '      - mlopsctl deploy --stage "$MLOPS_STAGE" --prune --shard "$MLOPS_SHARD"\n'
    )
