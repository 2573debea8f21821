"""Job name prefixes of the training templates (model_training.yaml's JobNamePrefix) and the
cross-config finding ``job-name-prefix``.

Each run of a training, tuning or Autopilot pipeline is named <JobNamePrefix>-<8 hex>; the stack's
job-outcome rules match jobs by that prefix and by the stack's job role (issue 19). A prefix comes
from the config's ``job_name`` (the same in every stage) or the stack name, so two pipelines (or two
stages in one account) may get the same prefix, or one under the other's; and names SageMaker
Pipelines gives its own jobs, ``pipelines-<execution id>-<step name>-<random>``
(https://github.com/aws/amazon-sagemaker-examples/issues/3106,
https://github.com/aws/sagemaker-python-sdk/pull/3946), fall under the prefix ``pipelines``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from mlops_gitops import names
from mlops_gitops.config.environments import Environments, may_share_account
from mlops_gitops.findings import Finding
from mlops_gitops.repo import Repo

KINDS = {
    "model_training_builtin": "Training",
    "model_tuner_builtin": "Tuning",
    "model_autopilot_training": "Autopilot",
}
# SageMaker caps training job names at 63 characters, tuning and AutoML job names at 32; each run
# appends "-" and 8 hex characters.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateAutoMLJobV2.html
PREFIX_LIMIT = {"Training": 63 - 9, "Tuning": 32 - 9, "Autopilot": 32 - 9}
HASH_CHARS = 6
# Prefixes of the names AWS services give the jobs they create themselves (see the module's text).
SERVICE_PREFIXES = ("pipelines",)


def job_name_prefix(job_name: str | None, base: str, kind: str, stack: str) -> str:
    """The config's job_name (else the resource base name), lower-cased to match SageMaker's ARNs.
    Where it is longer than the kind allows, it is cut and ends in a hash of the full stack name, so
    that two pipelines never share a cut prefix (before issue 19 the cut was plain: a tuning or
    Autopilot pipeline whose name was cut gets a new prefix, which only new runs' names carry)."""
    wanted = (job_name or base).lower()
    wanted = re.sub(r"[^a-z0-9-]", "-", wanted)
    wanted = re.sub(r"-{2,}", "-", wanted).strip("-") or "job"
    limit = PREFIX_LIMIT[kind]
    if len(wanted) <= limit:
        return wanted
    digest = hashlib.sha256(stack.encode("utf-8")).hexdigest()[:HASH_CHARS]
    return f"{wanted[: limit - HASH_CHARS - 1].rstrip('-')}-{digest}"


def job_name_prefix_findings(configs: Iterable, repo: Repo, env: Environments) -> list[Finding]:
    """In one account and region, no training pipeline's job name prefix may equal another's or
    start with another's and a hyphen (stages of one pipeline sharing an account included), and none
    may fall under a prefix AWS services name their own jobs with."""
    seen: list[tuple[tuple, str, str, str, str, bool]] = []  # scope, prefix, pipeline, stage, file, explicit
    out: dict[tuple, Finding] = {}
    for cfg in configs:
        kind = KINDS.get(cfg.pipeline_type)
        if kind is None:
            continue
        file = repo.display_lexical(cfg.path)
        for stage in cfg.stages:
            st = env.stage(stage)
            scope = ((st.account_id if st else None) or "", env.region_of(stage) or "")
            job_name = cfg.by_stage[stage].get("job_name")
            base = names.resource_base_name(env.stack_prefix, cfg.pipeline_id, stage)
            stack = names.stack_name(env.stack_prefix, cfg.pipeline_id, stage)
            prefix = job_name_prefix(job_name, base, kind, stack)
            path = "$.job_name" if job_name else "$"
            for reserved in SERVICE_PREFIXES:
                if prefix == reserved or prefix.startswith(f"{reserved}-"):
                    out.setdefault(
                        (cfg.pipeline_id, "reserved"),
                        Finding(
                            file,
                            path,
                            "job-name-prefix",
                            f"the job name prefix {prefix!r} (stage {stage!r}) is under {reserved!r}, which "
                            "SageMaker Pipelines names its own jobs with (pipelines-<execution id>-<step>-...)",
                            "choose a job_name that does not start with 'pipelines', or leave job_name out",
                            pipeline_id=cfg.pipeline_id,
                        ),
                    )
            for other_scope, other, other_pid, other_stage, other_file, _ in seen:
                if other_scope[1] != scope[1] or not may_share_account(other_scope[0], scope[0]):
                    continue
                if not (prefix == other or prefix.startswith(f"{other}-") or other.startswith(f"{prefix}-")):
                    continue
                who = (
                    f"stage {other_stage!r} of this pipeline"
                    if other_pid == cfg.pipeline_id
                    else f"pipeline {other_pid!r} ({other_file}), stage {other_stage!r}"
                )
                relation = "is the same as" if prefix == other else "overlaps"
                out.setdefault(
                    (cfg.pipeline_id, other_pid, "overlap"),
                    Finding(
                        file,
                        path,
                        "job-name-prefix",
                        f"stage {stage!r}: the job name prefix {prefix!r} {relation} {other!r} of {who}, in the "
                        "same account and region; jobs are named <prefix>-<8 hex>, so each stack's jobs would "
                        "carry the other's names",
                        "job_name is one value for every stage: where stages share an account, leave it out (the "
                        "default prefix, the stack name, has the stage)"
                        if other_pid == cfg.pipeline_id
                        else "give each pipeline its own job_name (no job_name: the stack name, which has the "
                        "stage), one that neither equals nor starts with another's and a hyphen",
                        pipeline_id=cfg.pipeline_id,
                    ),
                )
            seen.append((scope, prefix, cfg.pipeline_id, stage, file, bool(job_name)))
    return list(out.values())
