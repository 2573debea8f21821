"""The local buildspec runner (see :mod:`mlops_gitops.local.buildspec.spec` for now)."""

from mlops_gitops.local.buildspec.spec import (
    FAILED,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
    BuildResult,
    BuildspecError,
    load_buildspec,
    run_build,
)

__all__ = [
    "FAILED",
    "SKIPPED",
    "SUCCEEDED",
    "TIMED_OUT",
    "BuildResult",
    "BuildspecError",
    "load_buildspec",
    "run_build",
]
