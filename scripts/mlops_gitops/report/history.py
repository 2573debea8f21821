"""A pipeline's history as text, JSON or markdown (escaped: subjects and names come from git)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlops_gitops.report.markdown import cell, code, text
from mlops_gitops.report.table import table

if TYPE_CHECKING:
    from mlops_gitops.ops.history import History
    from mlops_gitops.ops.history_approvals import PullRequestApproval, StageApproval


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
    return lines + "".join(line + "\n" for line in approval_lines(history, _one_line))


def _pull_request(pr: PullRequestApproval) -> tuple[str, str]:
    """(the pull request, who approved it): people apart from the pr-check build's check."""
    people = ", ".join(pr.people) or "no person"
    check = "the pr-check build" if pr.check else "not the pr-check build"
    merged = f", merged by {pr.merged_by}" if pr.merged_by else ""
    return f"pull request {pr.pull_request_id} {pr.title!r}{merged}", f"approved by {people}; check: {check}"


def _stage_approval(a: StageApproval) -> str:
    if a.status in ("no approval step", "no live commit", "not found"):
        where = f" for commit {a.commit[:12]}" if a.commit and a.status == "not found" else ""
        return f"{a.status}{where}" + (" among the pipeline's newest executions" if where else "")
    said = f", comment {a.summary!r}" if a.summary else ""
    return f"{a.status} by {a.by or 'unknown'} at {a.at or 'unknown'}{said} (execution {a.execution_id})"


def approval_lines(history: History, escape) -> list[str]:
    """Who approved, one line each: every change's pull request, every stage's pipeline approval;
    ``escape`` makes a value from AWS or git safe where the line goes."""
    out = []
    for c in history.changes if history.pull_requests is not None else ():
        pr = history.pull_requests.get(c.commit)
        if pr is None:
            out.append(f"{c.commit[:12]}: " + escape("no merged pull request found"))
        else:
            what, who = _pull_request(pr)
            out.append(f"{c.commit[:12]}: " + escape(f"{what}: {who}"))
    for stage, approval in (history.approvals or {}).items():
        out.append(escape(f"{stage} pipeline approval: {_stage_approval(approval)}"))
    if history.approvals_note:
        out.append(escape(f"approvals: {history.approvals_note}"))
    return out


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
    out += ["", "#### Approvals", "", *(f"- {line}" for line in approval_lines(history, text))]
    return "\n".join(out) + "\n"
