"""`mlopsctl render`: the stack a pipeline would get in one stage (JSON; no AWS calls)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.errors import ExitCode, UsageError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
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
    p.set_defaults(run=run_render)


def run_render(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    import json

    from mlops_gitops.config.validate import Validator
    from mlops_gitops.core.render import RenderError, render
    from mlops_gitops.repo import CONFIG_FILE, find_repo, git_head
    from mlops_gitops.report.findings import render_text
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
    for note in spec.notes:
        err.write(f"note: {note}\n")
    return ExitCode.OK
