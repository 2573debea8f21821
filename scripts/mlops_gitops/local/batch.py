"""Run a CodeBuild batch build on this machine, with CodeBuild's semantics as documented
(https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html and
https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html):

- every build of a ``build-list`` or ``build-graph`` runs with the batch's source and buildspec,
  or the task's own ``buildspec``, its ``env.variables`` overriding the buildspec's, and
  ``CODEBUILD_BATCH_BUILD_IDENTIFIER`` set to its identifier; in a batch's builds
  ``CODEBUILD_INITIATOR`` names the batch (observed, not documented:
  https://github.com/thii/aws-codebuild-extras/issues/3);
- a build of a graph starts once every build it ``depend-on``\\s has completed; one whose
  dependency failed (without ``ignore-failure``) does not run (UNCONFIRMED: the page says only that
  it "will not run until these tasks are completed");
- ``fast-fail: true`` stops what has not started after the first failure that counts (builds
  already running finish here; CodeBuild stops them);
- the batch fails when a build without ``ignore-failure`` fails or does not run; the project's
  ``BuildBatchConfig.Restrictions.MaximumBuildsAllowed`` caps the number of builds.

Builds whose dependencies have completed run at once (threads here, containers in CodeBuild);
their log lines are prefixed with their identifier.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mlops_gitops.errors import GitOpsError
from mlops_gitops.local.buildspec.model import BatchSpec, BatchTask

SUCCEEDED, FAILED, NOT_RUN, STOPPED = "SUCCEEDED", "FAILED", "NOT_RUN", "STOPPED"


class BatchError(GitOpsError):
    """The batch can't start (CodeBuild would refuse it too)."""


@dataclass
class BatchBuild:
    identifier: str
    status: str  # SUCCEEDED | FAILED | NOT_RUN | STOPPED
    detail: str = ""
    ignore_failure: bool = False


@dataclass
class BatchResult:
    batch_id: str
    status: str  # SUCCEEDED | FAILED
    builds: list[BatchBuild] = field(default_factory=list)

    def summary(self) -> str:
        return f"batch {self.status}: " + ", ".join(f"{b.identifier} {b.status}" for b in self.builds)


def order(batch: BatchSpec) -> list[BatchTask]:
    """The builds, each after those it depends on (list order otherwise); BatchError on a cycle."""
    if batch.kind not in ("build-graph", "build-list"):
        raise BatchError(f"a {batch.kind} batch can't run locally (build-graph and build-list can)")
    pending = list(batch.tasks)
    done: set[str] = set()
    out: list[BatchTask] = []
    while pending:
        ready = [t for t in pending if set(t.depend_on) <= done]
        if not ready:
            raise BatchError(
                f"the batch's builds depend on each other in a cycle: {[t.identifier for t in pending]}"
            )
        out.append(ready[0])
        done.add(ready[0].identifier)
        pending.remove(ready[0])
    return out


def run_batch(
    batch: BatchSpec,
    run_one: Callable[[BatchTask, dict[str, str]], tuple[bool, str]],
    project: str,
    max_builds: int | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> BatchResult:
    """Run ``batch``; ``run_one(task, variables)`` runs one build with the batch's variables
    (task variables, the identifier, the batch's id as initiator) and says (succeeded, detail)."""
    tasks = order(batch)
    if max_builds is not None and len(tasks) > max_builds:
        raise BatchError(
            f"the batch has {len(tasks)} builds; the project's BuildBatchConfig allows {max_builds} "
            "(Restrictions.MaximumBuildsAllowed)"
        )
    result = BatchResult(f"{project}:{uuid.uuid4()}", SUCCEEDED)
    built: dict[str, BatchBuild] = {}
    pending, stop = list(tasks), False

    def run(task: BatchTask) -> BatchBuild:
        log(f"batch {result.batch_id}: build {task.identifier}")
        variables = {
            **task.variables,
            "CODEBUILD_BATCH_BUILD_IDENTIFIER": task.identifier,
            "CODEBUILD_INITIATOR": result.batch_id,
        }
        ok, detail = run_one(task, variables)
        return BatchBuild(task.identifier, SUCCEEDED if ok else FAILED, detail, task.ignore_failure)

    while pending:  # every build whose dependencies have completed starts, those together
        ready = [t for t in pending if all(d in built for d in t.depend_on)]
        todo = []
        for task in ready:
            bad = [d for d in task.depend_on if built[d].status != SUCCEEDED and not built[d].ignore_failure]
            if stop or bad:
                why = "stopped: fast-fail" if stop else f"not run: {', '.join(bad)} did not succeed"
                built[task.identifier] = BatchBuild(
                    task.identifier, STOPPED if stop else NOT_RUN, why, task.ignore_failure
                )
            else:
                todo.append(task)
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            for build in pool.map(run, todo):
                built[build.identifier] = build
                stop = stop or (build.status == FAILED and not build.ignore_failure and batch.fast_fail)
        pending = [t for t in pending if t.identifier not in built]
    result.builds = [built[t.identifier] for t in tasks]
    if any(b.status != SUCCEEDED and not b.ignore_failure for b in result.builds):
        result.status = FAILED
    return result
