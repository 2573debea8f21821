"""`mlopsctl history` output with who approved, in its three formats: golden files a reviewer reads
as a diff (regenerate with pytest --update-golden). Values from git and AWS are hostile on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.ops.history import ConfigChange, History, Live
from mlops_gitops.ops.history_approvals import PullRequestApproval, StageApproval
from mlops_gitops.report.history import history_json, history_markdown, history_text

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "history"
A, B, C = "a" * 40, "b" * 40, "c" * 40
PERSON = "arn:aws:iam::111122223333:user/alice"
BUILD = "arn:aws:sts::111122223333:assumed-role/mlops-pr-check-build/AWSCodeBuild-1"


def _history(online: bool) -> History:
    changes = [
        ConfigChange(
            A,
            "2026-11-30T10:00:00+00:00",
            "Bo | Tables",
            "prod serves 7",
            True,
            {"dev": "g v7", "prod": "g v7"},
        ),
        ConfigChange(
            B, "2026-11-29T10:00:00+00:00", "Ada", "prod serves 6", True, {"dev": "g v6", "prod": "g v6"}
        ),
        ConfigChange(C, "2026-11-28T10:00:00+00:00", "Ada", "first", True, {"dev": "g v5", "prod": "g v5"}),
    ]
    history = History("fraud-ab", changes)
    if not online:
        return history
    history.live = [
        Live("dev", "mlops-fraud-ab-dev", "UPDATE_COMPLETE", A),
        Live("prod", "mlops-fraud-ab-prod", "UPDATE_COMPLETE", B),
    ]
    history.serving = {"dev": A, "prod": B}
    history.pull_requests = {
        A: PullRequestApproval("12", "Promote *v7*\n| to prod", PERSON, [PERSON], [BUILD]),
        B: PullRequestApproval("11", "v6", "", [], [BUILD]),
    }
    history.approvals = {
        "dev": StageApproval("dev", "no approval step", A),
        "prod": StageApproval(
            "prod", "approved", B, "e-1", PERSON, "2026-11-29T12:00:00+00:00", "CAB-42 <ok>"
        ),
    }
    history.approvals_note = ""
    return history


@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
@pytest.mark.parametrize(
    "fmt, render", [("txt", history_text), ("md", history_markdown), ("json", history_json)]
)
def test_history_with_approvals_matches_its_golden_file(online, fmt, render, update_golden: bool) -> None:
    body = render(_history(online))
    path = GOLDEN / f"{'online' if online else 'offline'}.{fmt}"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run pytest --update-golden and review the diff"
    assert body == path.read_text(encoding="utf-8"), (
        f"{path.name} differs: if intended, run pytest --update-golden"
    )
