"""`mlopsctl validate --templates`: cfn-lint plus our policy rules, in-process, as Findings.

cfn-lint costs about 0.6 s to import, so it is imported here, only when templates are linted.
"""

from __future__ import annotations

from pathlib import Path

from mlops_gitops.findings import ERROR, WARNING, Finding, json_path
from mlops_gitops.policy_rules import RULES_DIR
from mlops_gitops.repo import Repo

TEMPLATE_GLOBS = ("cloudformation/*.yaml", "cloudformation/**/*.yaml")
DEFAULT_REGIONS = ("us-east-1",)


def template_files(repo: Repo) -> list[Path]:
    return sorted({p for pattern in TEMPLATE_GLOBS for p in repo.root.glob(pattern)})


def lint_templates(
    repo: Repo, paths: list[Path] | None = None, regions: tuple[str, ...] = DEFAULT_REGIONS
) -> tuple[list[Finding], list[str]]:
    """(findings, checked files) for every template under cloudformation/ (or ``paths``)."""
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=list(regions), include_checks=["I"], append_rules=[str(RULES_DIR)])
    findings: list[Finding] = []
    checked: list[str] = []
    for path in paths if paths is not None else template_files(repo):
        display = repo.display(path)
        checked.append(display)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            findings.append(
                Finding(
                    display,
                    "$",
                    "template-unreadable",
                    f"cannot read the template: {exc}",
                    "save it as UTF-8",
                )
            )
            continue
        for match in lint(text, config=config):
            parts = [
                int(p) if isinstance(p, int) or (isinstance(p, str) and p.isdigit()) else p
                for p in (match.path or [])
            ]
            severity = ERROR if match.rule.severity == "error" else WARNING
            hint = (
                f"line {match.linenumber}; see {match.rule.source_url}"
                if match.rule.source_url
                else f"line {match.linenumber}"
            )
            findings.append(Finding(display, json_path(parts), match.rule.id, match.message, hint, severity))
    return findings, checked
