"""Exit codes and the exceptions the CLI turns into them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # invalid config, policy violation, failed check
    USAGE = 2  # bad command line (argparse's own code)
    AWS = 3  # an AWS operation failed


class GitOpsError(Exception):
    """Base of every error the CLI reports as a message instead of a traceback."""

    exit_code = ExitCode.FINDINGS


class UsageError(GitOpsError):
    exit_code = ExitCode.USAGE


class RepoError(UsageError):
    """The repository layout is not what mlopsctl expects (no pipeline-configs/, ...)."""
