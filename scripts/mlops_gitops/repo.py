"""Where things are in a mlops-gitops repository."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlops_gitops.errors import RepoError

CONFIGS_DIR = "pipeline-configs"
CONFIG_FILE = "mlops-config.json"
ENVIRONMENTS_FILE = "environments.json"


@dataclass(frozen=True)
class Repo:
    root: Path

    @property
    def configs_dir(self) -> Path:
        return self.root / CONFIGS_DIR

    @property
    def environments_file(self) -> Path:
        return self.configs_dir / ENVIRONMENTS_FILE

    def config_files(self) -> list[Path]:
        return sorted(self.configs_dir.glob(f"*/{CONFIG_FILE}"))

    def pipeline_ids(self) -> list[str]:
        return [p.parent.name for p in self.config_files()]

    def display(self, path: Path) -> str:
        """The path as findings show it: relative to the repository root when inside it."""
        root = _resolved(self.root)
        try:
            return (
                path.relative_to(root).as_posix()
                if path.is_absolute() and path.is_relative_to(root)
                else path.resolve().relative_to(root).as_posix()
            )
        except ValueError:
            return str(path)


@cache
def _resolved(path: Path) -> Path:
    return path.resolve()


def find_repo(start: Path | None = None, explicit: Path | None = None) -> Repo:
    """The nearest folder holding pipeline-configs/, from ``start`` upwards (or ``explicit``)."""
    if explicit is not None:
        if not (explicit / CONFIGS_DIR).is_dir():
            raise RepoError(f"--repo-root {explicit}: no {CONFIGS_DIR}/ folder there")
        return Repo(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIGS_DIR).is_dir():
            return Repo(folder)
    raise RepoError(
        f"no {CONFIGS_DIR}/ folder in {here} or any parent; run mlopsctl inside a mlops-gitops repository, "
        "or pass --repo-root"
    )


def git_head(root: Path) -> str | None:
    """The commit checked out in ``root``, or None outside git (or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
