"""mlopsctl: the command line. The one place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from mlops_gitops import __version__
from mlops_gitops.errors import ExitCode, GitOpsError, UsageError

log = logging.getLogger("mlops_gitops")

DESCRIPTION = """\
GitOps for machine-learning pipelines on AWS. Each pipeline is one
pipeline-configs/<id>/mlops-config.json; mlopsctl validates them, renders their
CloudFormation stacks, plans and deploys them stage by stage, reports their status and
drift, reviews model promotions in pull requests, bootstraps the orchestrator (repository,
CodePipeline, CodeBuild) and runs that whole pipeline locally against a moto server.

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
    _add_validate(verbs)
    _add_render(verbs)
    from mlops_gitops import cli_deploy

    cli_deploy.add_verbs(verbs)
    from mlops_gitops import cli_drift

    cli_drift.add_verbs(verbs)
    from mlops_gitops import cli_bootstrap

    cli_bootstrap.add_verbs(verbs)
    from mlops_gitops import cli_review

    cli_review.add_verbs(verbs)
    from mlops_gitops import cli_local

    cli_local.add_verbs(verbs)
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
        "--templates",
        action="store_true",
        help="also lint every template under cloudformation/ with cfn-lint and our policy rules (E91xx)",
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
    if args.templates:
        from mlops_gitops.findings import sort_findings
        from mlops_gitops.lint import lint_templates

        template_findings, linted = lint_templates(repo)
        report.findings = sort_findings([*report.findings, *template_findings])
        report.checked.extend(linted)
    if args.format == "json":
        body = render_json(report.findings, len(report.checked))
    elif args.format == "junit":
        body = render_junit(report.findings, report.checked, suite="mlopsctl validate")
    else:
        body = render_text(report.findings)
    if args.output:
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(body, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"--output {args.output}: cannot write the report ({exc.strerror or exc})"
            ) from exc
        out.write(render_text(report.findings))
    else:
        out.write(body)
    n_err, n_warn = len(report.errors), len(report.warnings)
    err.write(
        f"mlopsctl validate: {len(report.checked)} file{'s' * (len(report.checked) != 1)} checked, "
        f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}\n"
    )
    return ExitCode.FINDINGS if report.errors else ExitCode.OK


# ------------------------------------------------------------------ render


def _add_render(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "render",
        help="print the stack a pipeline would get in one stage (JSON; no AWS calls)",
        description=(
            "Print the stack spec of pipeline ID in stage S as JSON: stack name, template, "
            "parameters (checked against the template's AllowedValues, AllowedPattern and bounds), "
            "values deploy resolves later, tags, Lambda artifacts and the spec hash that decides "
            "whether deploy has anything to do. Makes no AWS call. Exit 1 if the config is invalid "
            "or can't be rendered (e.g. its template is not written yet)."
        ),
    )
    p.add_argument("pipeline_id", metavar="ID", help="the pipeline's folder name under pipeline-configs/")
    p.add_argument("--stage", required=True, metavar="S", help="a stage of environments.json, e.g. dev")
    p.add_argument(
        "--commit",
        metavar="SHA",
        help="commit recorded in the mlops:commit tag (default: $CODEBUILD_RESOLVED_SOURCE_VERSION, else git HEAD)",
    )
    p.set_defaults(run=_run_render)


def _run_render(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    import json

    from mlops_gitops.config.validate import Validator
    from mlops_gitops.findings import render_text
    from mlops_gitops.render import RenderError, render
    from mlops_gitops.repo import CONFIG_FILE, find_repo, git_head
    from mlops_gitops.suggest import did_you_mean

    repo = find_repo(explicit=args.repo_root)
    path = repo.configs_dir / args.pipeline_id / CONFIG_FILE
    if not path.is_file():
        hint = did_you_mean(args.pipeline_id, repo.pipeline_ids(), "list them with: ls pipeline-configs/")
        raise UsageError(f"no pipeline {args.pipeline_id!r} (no {repo.display(path)}); {hint}")
    validator = Validator(repo)
    env = validator.environments()
    if args.stage not in env.names:
        raise UsageError(
            f"no stage {args.stage!r} in environments.json; {did_you_mean(args.stage, env.names, 'stages: ' + ', '.join(env.names))}"
        )
    config, findings = validator.check_config(path, env)
    if config is None:
        err.write(render_text([f for f in findings if f.is_error]))
        err.write(f"mlopsctl render: {repo.display(path)} is invalid; fix it first (mlopsctl validate)\n")
        return ExitCode.FINDINGS
    commit = (
        args.commit or environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION") or git_head(repo.root) or "unknown"
    )
    try:
        spec = render(repo.root, config, args.stage, env, commit=commit, region=args.region)
    except RenderError as exc:
        err.write(render_text(exc.findings))
        return ExitCode.FINDINGS
    out.write(json.dumps(spec.to_dict(), indent=2) + "\n")
    return ExitCode.OK


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
        if type(exc).__module__.startswith(("botocore", "boto3")):  # AWS (or its stand-in) failed us
            if args.debug:
                raise
            err.write(f"mlopsctl: AWS call failed: {type(exc).__name__}: {exc}\n")
            return ExitCode.AWS
        # anything else is a bug: say so plainly, never a traceback without --debug
        if args.debug:
            raise
        err.write(
            f"mlopsctl: internal error: {type(exc).__name__}: {exc}\n(rerun with --debug for the traceback, and please report it)\n"
        )
        return ExitCode.FINDINGS


def entry_point() -> None:
    sys.exit(main())
