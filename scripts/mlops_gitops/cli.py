"""mlopsctl: the command line. The one place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from mlops_gitops import __version__
from mlops_gitops.errors import ExitCode, GitOpsError

log = logging.getLogger("mlops_gitops")

DESCRIPTION = """\
GitOps for machine-learning pipelines on AWS. Each pipeline is one
pipeline-configs/<id>/mlops-config.json; mlopsctl validates them and (in later verbs)
renders and deploys their CloudFormation stacks.

exit codes: 0 ok, 1 findings (invalid config, failed check), 2 usage error, 3 AWS operation failed
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
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verbs.required = True
    _add_validate(verbs)
    return parser


# ------------------------------------------------------------------ validate


def _add_validate(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "validate",
        help="check configs (schema, semantics, policies) before anything touches AWS",
        description=(
            "Check mlops-config.json files and environments.json: JSON Schema, then what a schema "
            "can't say (instance types from botocore, cron and rate expressions, S3 locations, "
            "ARNs, per-stage values, names after prefixes, MWO's cross-field rules, plain-text "
            "secrets). Every finding is reported at once, one per line:\n\n"
            "  <file>: <JSON path>: <what is wrong>; <how to fix it>\n\n"
            "Exit 0 when valid (warnings allowed), 1 on any error, 2 on a usage error."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="config files or folders (default: every pipeline-configs/*/mlops-config.json); "
        "environments.json is always checked",
    )
    p.add_argument(
        "--format", choices=["text", "json", "junit"], default="text", help="report format (default: text)"
    )
    p.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the report to FILE (e.g. JUnit XML for CodeBuild reports); findings are still printed as text",
    )
    p.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.config.validate import validate
    from mlops_gitops.findings import render_json, render_junit, render_text
    from mlops_gitops.repo import find_repo

    repo = find_repo(explicit=args.repo_root)
    paths = [p if p.is_absolute() else Path.cwd() / p for p in args.paths]
    report, _ = validate(repo, paths)
    if args.format == "json":
        body = render_json(report.findings, len(report.checked))
    elif args.format == "junit":
        body = render_junit(report.findings, report.checked, suite="mlopsctl validate")
    else:
        body = render_text(report.findings)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(body, encoding="utf-8")
        out.write(render_text(report.findings))
    else:
        out.write(body)
    n_err, n_warn = len(report.errors), len(report.warnings)
    err.write(
        f"mlopsctl validate: {len(report.checked)} file{'s' * (len(report.checked) != 1)} checked, "
        f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}\n"
    )
    return ExitCode.FINDINGS if report.errors else ExitCode.OK


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
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
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
    except Exception as exc:  # a bug: say so plainly, never a traceback without --debug
        if args.debug:
            raise
        err.write(
            f"mlopsctl: internal error: {type(exc).__name__}: {exc}\n(rerun with --debug for the traceback, and please report it)\n"
        )
        return ExitCode.FINDINGS


def entry_point() -> None:
    sys.exit(main())
