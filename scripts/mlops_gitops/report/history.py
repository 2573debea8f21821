"""A pipeline's history as text, JSON or markdown (escaped: subjects and names come from git)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlops_gitops.report.markdown import cell, code, text
from mlops_gitops.report.table import table

if TYPE_CHECKING:
    from mlops_gitops.ops.history import History


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def history_text(history: History) -> str:
    stages = list(dict.fromkeys(s for c in history.changes for s in c.models))
    rows = [("COMMIT", "DATE", "AUTHOR", *(s.upper() for s in stages), "LIVE IN", "SUBJECT")]
    for c in history.changes:
        models = [c.models.get(s, "") if c.exists else "(removed)" for s in stages]
        rows.append(
            (
                c.commit[:12],
                c.date[:10],
                _one_line(c.author),
                *models,
                ",".join(history.live_in(c.commit)) or "-",
                _one_line(c.subject),
            )
        )
    lines = table(rows)
    for item in history.live:
        where = f"commit {item.commit[:12]}" if item.commit else "no commit recorded"
        lines += (
            f"{item.stage}: {item.stack} {item.status}"
            + (f", {where}" if item.status[:1].isupper() else "")
            + "\n"
        )
    return lines


def history_json(history: History) -> str:
    return json.dumps(history.to_dict(), indent=2, ensure_ascii=False) + "\n"


def history_markdown(history: History) -> str:
    """A table for a pull request or a wiki page; every value from git or AWS is escaped."""
    stages = list(dict.fromkeys(s for c in history.changes for s in c.models))
    out = [
        f"### History of {code(history.pipeline_id)}",
        "",
        "| commit | date | author | " + " | ".join(cell(s) for s in stages) + " | live in | subject |",
        "|---" * (len(stages) + 5) + "|",
    ]
    for c in history.changes:
        models = [cell(c.models.get(s, "")) if c.exists else "(removed)" for s in stages]
        live = ", ".join(history.live_in(c.commit)) or "-"
        out.append(
            f"| {code(c.commit[:12], table=True)} | {cell(c.date[:10])} | {cell(c.author)} | "
            + " | ".join(models)
            + f" | {cell(live)} | {cell(c.subject)} |"
        )
    if history.live:
        out += [
            "",
            *(f"- {text(item.stage)}: {code(item.stack)} {text(item.status)}" for item in history.live),
        ]
    return "\n".join(out) + "\n"
