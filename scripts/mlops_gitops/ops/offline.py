"""`plan --offline --base REF`: plan from git alone, treating the specs rendered at REF as what is
deployed. No AWS: this is what a pull request changes."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mlops_gitops.config.environments import Environments
from mlops_gitops.core.plan import Deployed, PlanItem, plan_stage
from mlops_gitops.core.render import render_stage
from mlops_gitops.errors import UsageError
from mlops_gitops.findings import Finding
from mlops_gitops.repo import CONFIGS_DIR, Repo


def checkout(root: Path, ref: str, target: Path) -> Repo:
    """The configs and templates of ``ref`` written under ``target``."""
    try:
        done = subprocess.run(
            ["git", "archive", "--format=tar", ref, CONFIGS_DIR, "cloudformation"],
            cwd=root,
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot read {ref!r} from git: {exc}") from exc
    if done.returncode != 0:
        raise UsageError(f"cannot read {ref!r} from git: {done.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(target, filter="data")
    return Repo(target)


def offline_plan(
    repo: Repo, env: Environments, stages: list[str], base: str, commit: str
) -> tuple[list[PlanItem], list[Finding]]:
    items: list[PlanItem] = []
    with tempfile.TemporaryDirectory(prefix="mlops-base-") as tmp:
        base_repo = checkout(repo.root, base, Path(tmp))
        for stage in stages:
            region = env.region_of(stage) or "us-east-1"
            specs, errors, _ = render_stage(repo, stage, commit, region)
            if errors:
                return [], errors
            base_specs, base_errors, _ = (
                render_stage(base_repo, stage, commit, region)
                if (base_repo.configs_dir.is_dir())
                else ([], [], [])
            )
            deployed = {
                s.stack_name: Deployed(s.stack_name, "CREATE_COMPLETE", s.tags, s.parameters)
                for s in base_specs
            }  # an invalid base deploys nothing: everything shows as create
            st = env.stage(stage)
            items += plan_stage(stage, specs, deployed, env.stack_prefix, bool(st and st.protected))
    return items, []
