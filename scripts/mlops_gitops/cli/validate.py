"""`mlopsctl validate`: schema, semantic and policy checks of configs (and, with --templates, cfn-lint)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from mlops_gitops.errors import ExitCode, UsageError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
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
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.repo import find_repo

    repo = find_repo(explicit=args.repo_root)
    paths = [p if p.is_absolute() else Path.cwd() / p for p in args.paths]
    lint_notes: list[str] = []
    pending_lint = None
    if args.templates:  # linted in the background while the configs are checked (core/lint)
        from mlops_gitops.core.lint import start_lint

        # Started before the config checks' imports (jsonschema, ~0.2 s): the lint server's boot is
        # the cold lint's first, serial step.
        if all(p.exists() or p.is_symlink() for p in paths):  # else validate stops at once (exit 2)
            pending_lint = start_lint(repo, notes=lint_notes)
    try:
        from mlops_gitops.config.validate import Validator, validate

        validator = Validator(repo)  # one, for the config checks and the physical-name check
        report, configs = validate(repo, paths, validator)
        if configs:
            from mlops_gitops.core.render import configs_name_findings
            from mlops_gitops.findings import sort_findings

            report.findings = sort_findings(
                [*report.findings, *configs_name_findings(repo, configs, validator)]
            )
    except BaseException:
        if pending_lint is not None:  # e.g. Ctrl-C: don't lint on for nothing
            pending_lint.abandon()
        raise
    if args.templates:
        from mlops_gitops.findings import sort_findings

        if pending_lint is None:
            pending_lint = start_lint(repo, notes=lint_notes)
        try:
            template_findings, linted = pending_lint.result()
        except BaseException:  # e.g. Ctrl-C while waiting: stop the workers, exit now
            pending_lint.abandon()
            raise
        for note in lint_notes:
            err.write(f"note: {note}\n")
        report.findings = sort_findings([*report.findings, *template_findings])
        report.checked.extend(linted)
    from mlops_gitops.report.findings import render_json, render_junit, render_text

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
