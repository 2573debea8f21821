"""MWO's configs and API bodies as this repository's pipeline configs (`mlopsctl migrate-mwo`).

MWO (AWS's MLOps Workload Orchestrator) took one JSON object per pipeline, from a file in its
CodeCommit mode or as the body of POST /provisionpipeline. Our configs accept MWO's fields as they
are, so a migration keeps every field and value; what it adds is the folder (the pipeline id), the
schema line, and a report of what differs in behaviour and what the user must decide. Pure: the
caller reads and writes the files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops import names

SCHEMA_LINE = "../mlops-config.schema.json"
MODEL_CARD_OPS = frozenset(
    {
        "create_model_card",
        "update_model_card",
        "describe_model_card",
        "delete_model_card",
        "export_model_card",
        "list_model_cards",
    }
)
_REALTIME_OR_BATCH = ("byom_realtime_", "byom_batch_")
# MWO's fields given as `bucket/prefix` (no scheme), which our configs accept as they are.
_BUCKET_PREFIX_FIELDS = (
    "data_capture_location",
    "batch_inference_data",
    "batch_job_output_location",
    "baseline_job_output_location",
    "monitoring_output_location",
    "monitor_ground_truth_input",
)


class MwoInputError(ValueError):
    """The input is not an MWO pipeline config or API body."""


@dataclass
class Migration:
    pipeline_id: str
    config: dict[str, Any]
    changed: list[str] = field(default_factory=list)  # what the migration changed, and why
    notes: list[str] = field(default_factory=list)  # what behaves differently here
    decide: list[str] = field(default_factory=list)  # what the user must decide

    def text(self) -> str:
        """The config as written: MWO's key order, the schema line first."""
        return json.dumps(self.config, indent=2, ensure_ascii=False) + "\n"

    def report(self, path: str) -> str:
        lines = [f"{path}: migrated from MWO ({self.config['pipeline_type']})"]
        for title, items in (
            ("changed", self.changed),
            ("behaves differently", self.notes),
            ("you decide", self.decide),
        ):
            lines += [f"  {title}:", *(f"    - {item}" for item in items)] if items else []
        return "\n".join(lines) + "\n"


def unwrap(document: Any) -> dict[str, Any]:
    """The MWO config inside ``document``: the object itself, or the JSON body of an API Gateway
    proxy event for POST /provisionpipeline (as MWO's API received it)."""
    if isinstance(document, dict) and "httpMethod" in document and "body" in document:
        path = str(document.get("path", ""))
        if not path.endswith("/provisionpipeline"):
            raise MwoInputError(f"an API event for {path!r}; only /provisionpipeline bodies are pipelines")
        body = document["body"]
        try:
            document = json.loads(body) if isinstance(body, str) else body
        except ValueError as exc:
            raise MwoInputError(f"the API event's body is not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise MwoInputError(f"expected a JSON object, found {type(document).__name__}")
    if "pipeline_type" not in document:
        raise MwoInputError("no pipeline_type: not an MWO pipeline config or /provisionpipeline body")
    return document


def pipeline_id_for(config: dict[str, Any]) -> str:
    """A pipeline id from MWO's own names: model_name (image_tag for image builders), lower-cased,
    other characters as single hyphens, at most 40 characters."""
    source = config.get("image_tag") if config.get("pipeline_type") == "byom_image_builder" else None
    source = source or config.get("model_name") or config.get("pipeline_type", "pipeline")
    pid = re.sub(r"[^a-z0-9]+", "-", str(source).strip().lower()).strip("-")[:40].strip("-")
    return pid or "pipeline"


# The pipeline types whose jobs are named by job_name (config/rules/job_names.py).
_TRAINING_JOBS = frozenset({"model_training_builtin", "model_tuner_builtin", "model_autopilot_training"})


def migrate(document: Any, pipeline_id: str | None = None) -> Migration:
    config = unwrap(document)
    ptype = config["pipeline_type"]
    if not isinstance(ptype, str):
        raise MwoInputError(f"pipeline_type is {ptype!r}, not a string")
    if ptype.strip() in MODEL_CARD_OPS:
        raise MwoInputError(
            f"{ptype!r} is an MWO model-card operation (an API call), not a pipeline; use the SageMaker "
            "model card APIs directly"
        )
    pid = pipeline_id or pipeline_id_for(config)
    if not names.PIPELINE_ID.match(pid):
        raise MwoInputError(
            f"{pid!r} can't be a pipeline id (lower-case letters, digits and single hyphens, at most "
            "40 characters); pass --id"
        )
    out: dict[str, Any] = {"$schema": SCHEMA_LINE}
    m = Migration(pid, out)
    for key, value in config.items():
        if key == "$schema":
            continue
        if key == "pipeline_type" and value != value.strip():
            m.changed.append(f"pipeline_type {value!r} -> {value.strip()!r} (MWO stripped it too)")
            value = value.strip()
        if key == "job_name" and str(ptype).strip() in _TRAINING_JOBS:
            m.changed.append(
                f"job_name {value!r} dropped: each stage's jobs are named <stack name>-<8 hex>; one job_name "
                "for every stage would give stages in one account the same job names, which validate "
                "refuses (job-name-prefix)"
            )
            continue
        out[key] = value
    m.changed.append(
        f'folder pipeline-configs/{pid}/ (the pipeline id; stack names are "<prefix>-{pid}-<stage>")'
    )
    m.changed.append('"$schema" added, so editors complete and explain each key')
    _notes(m, out, ptype.strip())
    return m


def _notes(m: Migration, config: dict[str, Any], ptype: str) -> None:
    if any(
        isinstance(config.get(k), str) and not config[k].startswith("s3://") for k in _BUCKET_PREFIX_FIELDS
    ):
        m.notes.append(
            "bucket/prefix locations are kept as MWO wrote them; they mean s3://bucket/prefix "
            "(mlopsctl render shows the full URI)"
        )
    if ptype.startswith(_REALTIME_OR_BATCH):
        package = config.get("model_package_name")
        if isinstance(package, str) and package:
            m.decide.append(
                "model_package_name is one version for every stage; stages with approval deploy only "
                'Approved versions: keep it, or pin per stage ({"dev": ..., "staging": ..., "prod": ...}) '
                "and move them forward with mlopsctl promote"
            )
        elif "model_artifact_location" in config:
            m.notes.append(
                "model_artifact_location is a key in environments.json's assets_bucket, as in MWO's "
                "assets bucket; check that bucket name"
            )
        m.notes.append(
            "deploys run dev first, then staging and prod after their approvals (MWO deployed one "
            "stage per install); give per-stage values where stages differ"
        )
    if ptype == "byom_image_builder":
        m.notes.append("the stack creates the ECR repository ecr_repo_name (MWO required one that existed)")
        m.notes.append(
            "the image is built once per account and region, by the first stage there (environments.json's "
            "order), as MWO built one image in its own account; later stages there use it, with no stack of "
            "their own"
        )
        m.decide.append(
            f"ecr_repo_name {config.get('ecr_repo_name')!r}: if MWO's repository by that name still exists "
            "in the account, the stack can't create it; give a new name (and point custom_image_uri there)"
        )
    if ptype.startswith("byom_") and "monitor" in ptype:
        m.notes.append(
            "the baseline job and monitoring schedule get stable names from the pipeline id (MWO "
            "added 4 random characters on every run)"
        )
    if ptype.startswith("model_"):
        m.notes.append("training runs once per deploy of a changed config, not on every API call")
