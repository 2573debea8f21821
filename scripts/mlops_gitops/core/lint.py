"""`mlopsctl validate --templates`: cfn-lint plus our policy rules, in-process, as Findings.

cfn-lint costs about 0.6 s to import, so it is imported here, only when templates are linted. It
then takes 1-2 s per template, more with many conditions (its solver checks every Fn::If against all
of them: keep the count of conditions low, as data_lake.yaml's feature slots do), so each template's
findings are cached under its content hash (plus cfn-lint's version, our rules and the settings) in
mlopsctl's cache directory ($MLOPS_GITOPS_CACHE_DIR; buildspecs/validate.yml keeps it across
CodeBuild builds): an unchanged template is linted once. Templates to lint are spread over processes.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from mlops_gitops.core.policy_rules import RULES_DIR
from mlops_gitops.findings import ERROR, WARNING, Finding, json_path
from mlops_gitops.repo import Repo

TEMPLATE_GLOBS = ("cloudformation/*.yaml", "cloudformation/**/*.yaml")
DEFAULT_REGIONS = ("us-east-1",)


def template_files(repo: Repo) -> list[Path]:
    return sorted({p for pattern in TEMPLATE_GLOBS for p in repo.root.glob(pattern)})


def lint_templates(
    repo: Repo, paths: list[Path] | None = None, regions: tuple[str, ...] = DEFAULT_REGIONS
) -> tuple[list[Finding], list[str]]:
    """(findings, checked files) for every template under cloudformation/ (or ``paths``)."""
    findings: list[Finding] = []
    checked: list[str] = []
    todo: dict[str, tuple[str, str, Path]] = {}  # display -> (text, cache key, cache file)
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
        key = _cache_key(text, regions)
        cached = _cache_file(key)
        hit = _read_cache(cached)
        try:
            found = [Finding(**{**f, "file": display}) for f in hit] if hit is not None else None
        except TypeError:  # an entry of another shape: lint again
            found = None
        if found is not None:
            findings += found
        else:
            todo[display] = (text, key, cached)
    if todo:
        jobs = [(display, text, regions) for display, (text, _, _) in todo.items()]
        workers = min(len(jobs), os.cpu_count() or 1)
        if workers > 1:
            # spawn, not fork: the caller may run threads (a moto server in tests, deploy pools)
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(_lint_one, jobs))
        else:
            results = [_lint_one(job) for job in jobs]
        for (_, _, cached), found in zip(todo.values(), results, strict=True):
            _write_cache(cached, found)
            findings += found
    return findings, checked


def _lint_one(job: tuple[str, str, tuple[str, ...]]) -> list[Finding]:
    from cfnlint.api import ManualArgs, lint

    display, text, regions = job
    config = ManualArgs(regions=list(regions), include_checks=["I"], append_rules=[str(RULES_DIR)])
    out = []
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
        out.append(Finding(display, json_path(parts), match.rule.id, match.message, hint, severity))
    return out


# ------------------------------------------------------------------ cache


def _cache_key(text: str, regions: tuple[str, ...]) -> str:
    return hashlib.sha256(_settings(regions).encode() + text.encode("utf-8")).hexdigest()


@cache
def _settings(regions: tuple[str, ...]) -> str:
    """What, besides the template, decides its findings: read once per process, not per template."""
    from dataclasses import fields
    from importlib.metadata import version

    from mlops_gitops import __version__

    digest = hashlib.sha256()
    digest.update(f"cfn-lint {version('cfn-lint')} regions {','.join(regions)} checks I\n".encode())
    digest.update(f"mlops-gitops {__version__} {[f.name for f in fields(Finding)]}\n".encode())
    for rule in sorted(RULES_DIR.glob("*.py")):  # our rules are part of the result
        digest.update(rule.name.encode() + b"\0" + rule.read_bytes())
    return digest.hexdigest()


def _cache_file(key: str) -> Path:
    from mlops_gitops.awsdata import cache_dir

    return cache_dir() / "lint" / f"{key}.json"


def _read_cache(path: Path) -> list[dict] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) and all(isinstance(f, dict) for f in data) else None


def _write_cache(path: Path, findings: list[Finding]) -> None:
    from mlops_gitops.awsdata import _write_quietly

    _write_quietly(path, json.dumps([asdict(f) for f in findings]))
