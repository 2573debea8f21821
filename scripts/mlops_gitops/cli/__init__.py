"""mlopsctl: the command line. The one place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import TextIO

from mlops_gitops import __version__
from mlops_gitops.errors import ExitCode, GitOpsError

# One module per verb (or family of verbs), each with add_verbs(subparsers) and run functions that
# return an exit code; they import what they need when they run, so `validate` stays fast.
VERB_MODULES = (
    "validate",
    "render",
    "plan",
    "deploy",
    "status",
    "drift",
    "bootstrap",
    "review",
    "promote",
    "migrate",
    "history",
    "local",
)

log = logging.getLogger("mlops_gitops")

DESCRIPTION = """\
GitOps for machine-learning pipelines on AWS. Each pipeline is one
pipeline-configs/<id>/mlops-config.json; mlopsctl validates them, renders their
CloudFormation stacks, plans and deploys them stage by stage, reports their status and
drift, reviews model promotions in pull requests, bootstraps the orchestrator (repository,
CodePipeline, CodeBuild) and runs that whole pipeline locally against a moto server.

exit codes: 0 ok, 1 findings (invalid config, failed check), 2 usage error, 3 AWS operation failed,
4 internal error (a bug in mlopsctl: rerun with --debug and report it)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code 2, with a pointer to --help
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlopsctl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"mlopsctl {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show debug logs and tracebacks of internal errors"
    )
    parser.add_argument(
        "--repo-root",
        type=Path,
        metavar="DIR",
        help="the repository (default: the nearest folder holding pipeline-configs/, from the current one up)",
    )
    aws = parser.add_argument_group("AWS (plan, deploy, status)")
    aws.add_argument(
        "--region", help="AWS region (default: environments.json's, else AWS_REGION / AWS_DEFAULT_REGION)"
    )
    aws.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint, e.g. a local moto server (default: $AWS_ENDPOINT_URL)",
    )
    aws.add_argument("--profile", help="AWS named profile (default: $AWS_PROFILE)")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True
    for module in VERB_MODULES:
        import_module(f"mlops_gitops.cli.{module}").add_verbs(verbs)
    return parser


# ------------------------------------------------------------------ entry points


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # argparse prints itself
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    progress = _progress_to(err)
    try:
        return int(args.run(args, environ, out, err))
    except GitOpsError as exc:
        if args.debug:
            raise
        err.write(f"mlopsctl: {exc}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err.write("mlopsctl: interrupted\n")
        return 130
    except Exception as exc:
        if _is_aws_failure(exc):  # AWS (or its stand-in) failed us
            if args.debug:
                raise
            err.write(f"mlopsctl: AWS call failed: {_aws_reason(exc)}\n")
            return ExitCode.AWS
        # anything else is a bug: say so plainly, never a traceback without --debug
        if args.debug:
            raise
        err.write(
            f"mlopsctl: internal error: {type(exc).__name__}: {exc}\n(rerun with --debug for the traceback, and please report it)\n"
        )
        return ExitCode.INTERNAL
    finally:
        progress_logger = logging.getLogger(PROGRESS_LOGGER)
        progress_logger.removeHandler(progress)
        progress_logger.propagate = not progress_logger.handlers


PROGRESS_LOGGER = "mlops_gitops.progress"  # waits on AWS say what they wait for (aws/cloudformation)


def _progress_to(err: TextIO) -> logging.Handler:
    """Progress lines go to this run's stderr as they are, whatever the log level."""
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(PROGRESS_LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    return handler


def _is_aws_failure(exc: Exception) -> bool:
    if type(exc).__module__.startswith(("botocore", "boto3")):
        return True
    if "botocore" not in sys.modules:  # nothing made an AWS call
        return False
    from mlops_gitops.aws.errors import AWS_ERRORS

    return isinstance(exc, AWS_ERRORS)


def _aws_reason(exc: Exception) -> str:
    """One line: the endpoint, the operation and what went wrong, never a quoted response body."""
    from mlops_gitops.aws.errors import reason

    return reason(exc)


def entry_point() -> None:
    sys.exit(main())
