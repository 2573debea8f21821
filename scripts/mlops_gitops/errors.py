"""Exit codes and the exceptions the CLI turns into them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # invalid config, policy violation, failed check
    USAGE = 2  # bad command line (argparse's own code)
    AWS = 3  # an AWS operation failed
    INTERNAL = 4  # a bug in mlopsctl (never a finding): shown without a traceback unless --debug


class GitOpsError(Exception):
    """Base of every error the CLI reports as a message instead of a traceback."""

    exit_code = ExitCode.FINDINGS


class AwsError(GitOpsError):
    """An AWS operation failed in a way the workflow can explain in one line."""

    exit_code = ExitCode.AWS


class UsageError(GitOpsError):
    exit_code = ExitCode.USAGE


class RepoError(UsageError):
    """The repository layout is not what mlopsctl expects (no pipeline-configs/, ...)."""
