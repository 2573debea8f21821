"""Which pipelines a git change touches (for `plan --base REF` and PR checks)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.templates import MAPPING_FILE, PIPELINES_DIR, mapping
from mlops_gitops.errors import UsageError
from mlops_gitops.repo import CONFIGS_DIR, Repo

# A change to any of these can change every stack.
GLOBAL_PATHS = (
    f"{CONFIGS_DIR}/environments.json",
    f"{CONFIGS_DIR}/mlops-config.schema.json",
    f"{CONFIGS_DIR}/environments.schema.json",
    f"{PIPELINES_DIR.as_posix()}/{MAPPING_FILE}",
    "scripts/mlops_gitops/",  # the code that renders stacks (params, templates, lambdas, image data)
)


RENDER_INPUTS = (CONFIGS_DIR, "cloudformation", "scripts/mlops_gitops")


def changed_files(root: Path, base: str, paths: tuple[str, ...] = RENDER_INPUTS) -> list[str]:
    """Files changed since ``base`` under ``paths`` (every file with ``paths=()``)."""
    try:
        done = subprocess.run(
            ["git", "diff", "--name-only", base, "--", *paths],
            cwd=root, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run git to compare with {base!r}: {exc}") from exc
    if done.returncode != 0:
        raise UsageError(f"git diff against {base!r} failed: {done.stderr.strip() or done.stdout.strip()}")
    return [line for line in done.stdout.splitlines() if line]


def changed_pipelines(repo: Repo, base: str) -> set[str] | None:
    """Pipeline ids whose config or template changed since ``base``; None means all of them."""
    files = changed_files(repo.root, base)
    if any(f.startswith(GLOBAL_PATHS) for f in files):
        return None
    wanted: set[str] = set()
    templates = {
        Path(f).name for f in files if f.startswith(PIPELINES_DIR.as_posix() + "/") and f.endswith(".yaml")
    }
    types = {t for name, ts in mapping(repo.root)["templates"].items() if name in templates for t in ts}
    for pipeline_id, ptype in Validator(repo).pipelines().items():
        if ptype in types:
            wanted.add(pipeline_id)
    for f in files:
        parts = f.split("/")
        if len(parts) >= 3 and parts[0] == CONFIGS_DIR:
            wanted.add(parts[1])
    return wanted


def beyond_pipeline_folders(root: Path, base: str) -> list[str]:
    """Changed files outside pipeline-configs/<id>/: what runs with the deploy role once merged
    (code, templates, buildspecs, packaging) or changes every stage (environments.json, schemas).
    Markdown files are prose nothing runs, and stay the check's to approve."""
    return [
        f
        for f in changed_files(root, base, ())
        if not (f.startswith(f"{CONFIGS_DIR}/") and f.count("/") >= 2) and not f.endswith(".md")
    ]
