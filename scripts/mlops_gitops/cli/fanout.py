"""`mlopsctl deploy --shard I/N` and `--summary N`: a stage's deploy fanned out over the builds of
one batch (ops.shards says who deploys what). What they add around the ordinary deploy of
cli/deploy.py: a shard marks its attempt, applies its part of the plan and records its outcome;
the final step applies the deletes, reads the shards' records and gives the stage one table and
one exit status."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from mlops_gitops.errors import ExitCode
from mlops_gitops.ops import shards
from mlops_gitops.ops.shards import Shard, ShardRecord


@dataclass
class Fanout:
    shard: Shard | None = None  # --shard: this build is one shard
    count: int | None = None  # --summary: this build is the final step after ``count`` shards
    batch: str = ""  # the id the batch's builds share (ops.shards.batch_id)
    records: dict[int, ShardRecord | None] = field(default_factory=dict)  # read by the final step

    @classmethod
    def of(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> Fanout:
        shard = shards.parse_shard(args.shard) if args.shard is not None else None
        count = shards.check_count(args.summary) if args.summary is not None else None
        batch = shards.batch_id(environ) if shard or count else ""
        return cls(shard, count, batch)

    @property
    def active(self) -> bool:
        return self.shard is not None or self.count is not None

    def lease_options(self) -> dict[str, Any]:
        """A batch's builds share the stage's lease under the batch's id; only its final step
        releases it (ops.lease.stage_lease)."""
        return {"joint": self.batch or None, "release": self.shard is None}

    def begin(self, deployer: Any, stage: str, commit: str) -> None:
        """A shard's first write: a retry under the same batch id must not leave the last
        attempt's record (ops.shards.mark_started)."""
        if self.shard is not None:
            shards.mark_started(deployer, stage, self.shard, self.batch, commit)

    def part(self, plan: Any) -> Any:
        """What this build applies: a shard its pipelines, the final step the deletes, else all."""
        if self.shard is not None:
            return shards.with_items(plan, shards.owned(plan.items, self.shard))
        if self.count is not None:
            return shards.with_items(plan, shards.deletes(plan.items))
        return plan

    def collect(self, deployer: Any, stage: str) -> None:
        """The final step reads the shards' records (while it still holds the lease)."""
        if self.count is not None:
            self.records = shards.load_records(deployer, stage, self.batch, self.count)

    def finish(
        self, deployer: Any, stage: str, commit: str, whole: Any, part: Any, outcomes: list, out: TextIO
    ) -> int:
        if self.shard is not None:
            return self._recorded(deployer, stage, commit, outcomes, part, out)
        return self._summarized(commit, whole, part, outcomes, out)

    def _recorded(
        self, deployer: Any, stage: str, commit: str, outcomes: list, part: Any, out: TextIO
    ) -> int:
        """A shard's end: its table, then its record for the batch's final step."""
        from mlops_gitops.aws.errors import AWS_ERRORS, reason
        from mlops_gitops.report.deploy import deploy_summary

        shard = self.shard
        assert shard is not None
        if not part.items:
            out.write(f"deploy: shard {shard} of stage {stage}: nothing to do (no pipeline hashes here)\n")
        else:
            out.write(deploy_summary(outcomes))
        record = ShardRecord.of(stage, shard, self.batch, commit, outcomes, len(part.findings))
        try:
            where = shards.save_record(deployer, record)
        except AWS_ERRORS as exc:
            out.write(f"deploy: shard {shard}: its outcome could not be recorded ({reason(exc)})\n")
            return ExitCode.AWS
        failed = sum(1 for o in outcomes if o.failed)
        out.write(
            f"deploy: shard {shard} recorded at {where}"
            + (f" ({failed} failed or refused)" if failed else "")
            + "; the stage's exit status is the summary step's (deploy --summary)\n"
        )
        return ExitCode.OK

    def _summarized(self, commit: str, whole: Any, part: Any, outcomes: list, out: TextIO) -> int:
        """The final step's end: one table for the stage, the failed or silent shards named."""
        from mlops_gitops.ops.deploy import deletions_note
        from mlops_gitops.report.deploy import deploy_summary

        count = self.count
        assert count is not None
        summary = shards.summarize(whole.items, count, self.records, commit, outcomes)
        out.write(deploy_summary(summary.outcomes))
        out.write(deletions_note(outcomes))
        out.write(shards.summary_lines(summary, count))
        if summary.failed:
            return ExitCode.AWS
        refused = any(o.result == "blocked" for o in summary.outcomes)
        return ExitCode.FINDINGS if refused or summary.findings or part.findings else ExitCode.OK
