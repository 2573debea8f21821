"""Status rows as a table or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from mlops_gitops.report.table import table

if TYPE_CHECKING:
    from mlops_gitops.ops.status import PipelineStatus


def status_text(rows: list[PipelineStatus]) -> str:
    header = ("PIPELINE", "STAGE", "STACK", "SYNC", "STACK STATUS", "HEALTH", "LAST DRIFT", "DETAIL")
    return table(
        [
            header,
            *(
                (r.pipeline_id, r.stage, r.stack, r.sync, r.stack_status, r.health, r.drift, r.detail)
                for r in rows
            ),
        ]
    )


def status_json(rows: list[PipelineStatus]) -> str:
    return json.dumps({"pipelines": [asdict(r) for r in rows]}, indent=2) + "\n"
