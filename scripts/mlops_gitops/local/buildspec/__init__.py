"""Run a CodeBuild buildspec (version 0.2) on this machine the way CodeBuild runs it.

moto's CodeBuild accepts ``start_build`` and never runs anything, and no pip-installable runner is
faithful (see the moto reference, section 7), so embedded mode runs buildspecs here.

The shell
    CodeBuild 0.2 keeps the shell's state from one command to the next and across phases: ``cd``,
    ``export`` and plain shell variables carry over. It does not keep one shell *process*: AWS writes
    each command to a script (logs show ``/codebuild/output/tmp/script.sh: line 4``), ``exit 0`` in one
    command does not stop the later ones, and the service team says arrays are not preserved between
    commands (aws/aws-cdk#26694). This runner does the same: every command is one process of the
    build's shell that first restores the state, then sources the command from its own file, then
    dumps the state (``pwd``, ``env -0`` for exported variables, and ``set`` plus ``eval``/``printf``
    for the values of unexported scalar variables) to a private directory for the next command. A
    command that ends the shell early (``exit``, ``set -e``) keeps the state from before it.
    Functions, aliases, traps, ``set`` options and arrays (beyond element 0) do not carry over.
    The shell is ``/bin/sh`` unless ``env.shell`` is ``bash``: CodeBuild runs Linux commands with sh
    (awsdocs/aws-codebuild-user-guide#65), which is dash on Ubuntu-based images, so ``[[`` fails there
    as it does on CodeBuild's standard images.

Output
    stdout and stderr of a command go to one pipe, like the single CloudWatch stream, and each line
    reaches the caller's ``log`` as soon as it is read. The runner's own lines look like CodeBuild's
    (``[Container] 2024/01/01 10:00:00.000001 Running command make``). Parameter Store and Secrets
    Manager values of three characters or more are masked as ``***`` in the log.

Processes
    Each command runs in its own process group. When the build timeout expires the running group is
    killed (SIGKILL) and the build is TIMED_OUT. Background processes a command leaves behind keep
    running during the build and are killed when it ends, as when CodeBuild removes the container.

Assumptions the reference marks UNCONFIRMED are keyword arguments of :func:`run_build` or are noted
where they are implemented.

The package, by concern (each depends only on those above it): ``model`` (the parsed buildspec and
the build's results), ``spec`` (loading and validating the document), ``shell`` (the shell, its
process groups and the log), ``environment`` (the starting environment, Parameter Store and Secrets
Manager), ``artifacts`` (artifacts, reports and JUnit counts), ``run`` (:func:`run_build`).
"""

from mlops_gitops.local.buildspec.model import (
    COVERAGE_REPORT_FORMATS,
    DEFAULT_TIMEOUT,
    DOWNLOAD_SOURCE,
    FAILED,
    PHASE_ORDER,
    PHASE_TYPES,
    PHASES,
    SKIPPED,
    SUCCEEDED,
    TEST_REPORT_FORMATS,
    TIMED_OUT,
    UPLOAD_ARTIFACTS,
    ArtifactResult,
    ArtifactSpec,
    BuildResult,
    Buildspec,
    EnvSpec,
    PhaseResult,
    PhaseSpec,
    ReportFile,
    ReportResult,
    ReportSpec,
    RetryPolicy,
    SecretRef,
)
from mlops_gitops.local.buildspec.run import run_build
from mlops_gitops.local.buildspec.spec import BuildspecError, load_buildspec

__all__ = [
    "ArtifactResult",
    "ArtifactSpec",
    "BuildResult",
    "Buildspec",
    "BuildspecError",
    "COVERAGE_REPORT_FORMATS",
    "DEFAULT_TIMEOUT",
    "DOWNLOAD_SOURCE",
    "EnvSpec",
    "FAILED",
    "PHASES",
    "PHASE_ORDER",
    "PHASE_TYPES",
    "PhaseResult",
    "PhaseSpec",
    "ReportFile",
    "ReportResult",
    "ReportSpec",
    "RetryPolicy",
    "SKIPPED",
    "SUCCEEDED",
    "SecretRef",
    "TEST_REPORT_FORMATS",
    "TIMED_OUT",
    "UPLOAD_ARTIFACTS",
    "load_buildspec",
    "run_build",
]
