"""`mlopsctl migrate-mwo`: MWO configs and /provisionpipeline bodies as pipeline folders here."""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from mlops_gitops.cli.options import AWS_OPTIONS
from mlops_gitops.errors import ExitCode, UsageError

DESCRIPTION = """\
Turn what an MLOps Workload Orchestrator (MWO) user has into this repository's layout. Each SOURCE
is an MWO mlops-config.json (MWO's CodeCommit mode) or a JSON body as sent to MWO's
/provisionpipeline API (also inside an API Gateway event), or, when no file of that name exists,
the name (or ARN) of a stack MWO provisioned (mlops-pipeline-<name>-<type>): its parameters are read
back (DescribeStacks, with --region/--profile/--endpoint-url; region default: environments.json's)
and mapped to MWO's fields. It becomes
pipeline-configs/<id>/mlops-config.json with MWO's fields kept as they are; <id> comes from
model_name (image_tag for image builders) unless --id is given.

For each SOURCE it prints what it changed and why, what behaves differently here, and what you
must decide (for example which registry version staging and prod pin). The result is validated
before anything is written: an invalid one is reported and not written. Running it again is safe:
an identical config is left as it is, a different one is never overwritten without --force.

--adopt STACK (one SOURCE): then plan how this repository's stack takes over the real-time
endpoint MWO's stack STACK serves, in --stage (default: the first stage), without a moment where
the endpoint is absent; print the steps and change nothing unless --apply
(docs/migrating-from-mwo.md, "Taking over a running endpoint").

exit codes: 0 written or unchanged (and the adoption planned or applied), 1 a SOURCE is not an MWO
config or stack, or its migration is invalid (nothing written for it), or the adoption is refused
(nothing changed), 2 usage error (a SOURCE that is neither a readable file nor an existing stack: a
mistyped name, like an unreadable file), 3 AWS failed (e.g. no credentials)
"""


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "migrate-mwo",
        parents=[AWS_OPTIONS],
        help="turn MWO mlops-config.json files or /provisionpipeline bodies into pipeline folders",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SOURCE",
        help="MWO config or API body (JSON file), or an MWO stack",
    )
    p.add_argument("--id", dest="pipeline_id", metavar="ID", help="the pipeline id (one SOURCE only)")
    p.add_argument("--force", action="store_true", help="overwrite a config that differs")
    p.add_argument("--dry-run", action="store_true", help="print the report and the config; write nothing")
    p.add_argument("--adopt", metavar="STACK", help="then plan the takeover of MWO stack STACK's endpoint")
    p.add_argument("--stage", metavar="S", help="the stage whose endpoint --adopt takes over")
    p.add_argument("--apply", action="store_true", help="with --adopt: run the takeover's steps")
    p.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.repo import CONFIG_FILE, find_repo

    if args.pipeline_id and len(args.sources) > 1:
        raise UsageError("--id names one pipeline: give one SOURCE with it")
    if args.adopt and (len(args.sources) > 1 or args.dry_run):
        raise UsageError("--adopt takes one SOURCE, written (not --dry-run); the plan changes nothing")
    if args.apply and not args.adopt:
        raise UsageError("--apply applies an adoption: give --adopt STACK")
    repo = find_repo(explicit=args.repo_root)
    validator = Validator(repo)
    env = validator.environments()
    worst = ExitCode.OK
    for source in args.sources:
        code = _one(source, args, repo, validator, env, CONFIG_FILE, out, err, environ)
        worst = max(worst, code)
    if args.adopt and worst == ExitCode.OK:
        return _adopt(args, environ, repo, validator, env, CONFIG_FILE, out, err)
    return worst


def _adopt(args, environ, repo, validator, env, config_file: str, out: TextIO, err: TextIO) -> int:
    """The migrated config's pipeline takes over MWO's endpoint (ops.adopt)."""
    from mlops_gitops.cli.options import aws_context, stage_gateways
    from mlops_gitops.config.mwo import migrate
    from mlops_gitops.ops.adopt import AdoptionFailed, AdoptionRefused, adopt_pipeline

    document, _ = _document(args.sources[0], args, env, environ)
    pid = migrate(document, args.pipeline_id).pipeline_id
    config, _ = validator.check_config(repo.configs_dir / pid / config_file, env)
    stage = args.stage or (config.stages[0] if config and config.stages else "")
    if config is None or not stage:
        raise UsageError(f"--adopt: {pid} has no valid config or no stage to adopt into")
    gateways = stage_gateways(aws_context(args, environ), env, stage, args, deploying=args.apply)
    try:
        adopt_pipeline(repo.root, config, env, stage, gateways, args.adopt, args.apply, out.write)
    except AdoptionRefused as exc:
        err.write(f"--adopt {args.adopt}: refused, nothing changed: {exc}\n")
        return ExitCode.FINDINGS
    except AdoptionFailed as exc:
        err.write(f"--adopt {args.adopt}: {exc}\n")
        return ExitCode.AWS
    return ExitCode.OK


# A CloudFormation stack name (or a stack's ARN): what a SOURCE that is not a file may be.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
STACK_NAME = re.compile(
    r"^(?:[A-Za-z][-A-Za-z0-9]{0,127}|arn:aws[-a-z]*:cloudformation:[-a-z0-9]+:\d{12}:stack/.+)$"
)


def _document(source: Path, args, env, environ: Mapping[str, str]) -> tuple[dict, list[str]]:
    """SOURCE as an MWO document: a file's JSON, or the config read back from the stack it names
    (with what was read back, for the report). OSError, ValueError and MwoInputError pass up."""
    if source.exists() or not STACK_NAME.match(str(source)):
        return json.loads(source.read_text(encoding="utf-8")), []
    return _from_stack(str(source), args, env, environ)


def _from_stack(name: str, args, env, environ: Mapping[str, str]) -> tuple[dict, list[str]]:
    """The MWO config read back from the stack ``name`` (with the usual AWS options; region:
    --region, else environments.json's, else AWS_REGION); UsageError when there is no such stack."""
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.cli.options import aws_context
    from mlops_gitops.config.mwo_stack import config_from_stack

    aws = aws_context(args, environ, interactive=True)
    region = getattr(args, "region", None) or env.region or aws.region
    stack = CloudFormationGateway(aws.client("cloudformation", region)).snapshot(name)
    if stack is None:
        raise UsageError(
            f"{name}: no such file, and no stack of that name in {region or 'the default region'}; give an "
            "MWO config file, or the name of a stack MWO provisioned (--region, --profile, --endpoint-url "
            "say where to look)"
        )
    return config_from_stack(stack.name, stack.parameters)


def _one(
    source: Path,
    args,
    repo,
    validator,
    env,
    config_file: str,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
) -> int:
    from mlops_gitops.config.mwo import MwoInputError, migrate
    from mlops_gitops.report.findings import render_text

    try:
        document, read_back = _document(source, args, env, environ)
    except OSError as exc:
        raise UsageError(f"{source}: can't read it ({exc.strerror or exc})") from exc
    except MwoInputError as exc:  # a stack, but not one MWO provisioned
        err.write(f"{source}: {exc}; nothing written\n")
        return ExitCode.FINDINGS
    except ValueError as exc:
        err.write(f"{source}: not JSON ({exc}); nothing written\n")
        return ExitCode.FINDINGS
    try:
        migration = migrate(document, args.pipeline_id)
    except MwoInputError as exc:
        err.write(f"{source}: {exc}; nothing written\n")
        return ExitCode.FINDINGS
    migration.changed[:0] = read_back
    target = repo.configs_dir / migration.pipeline_id / config_file
    display = repo.display(target)
    text = migration.text()
    with tempfile.TemporaryDirectory(prefix="mlops-migrate-") as tmp:
        candidate = Path(tmp) / migration.pipeline_id / config_file
        candidate.parent.mkdir()
        candidate.write_text(text, encoding="utf-8")
        config, findings = validator.check_config(candidate, env)
        if config is not None:  # the names its stacks would create, from the templates
            from mlops_gitops.core.render import physical_name_findings

            fields = validator.schema.types[config.pipeline_type].fields
            findings += physical_name_findings(repo.root, config, env, fields)
    errors = [f for f in findings if f.is_error]
    if errors:
        err.write(render_text(errors).replace(f"{candidate}", display))
        err.write(f"{source}: the migrated config would be invalid (above); nothing written\n")
        return ExitCode.FINDINGS
    out.write(migration.report(display))
    if args.dry_run:
        out.write(text)
        return ExitCode.OK
    if target.exists():
        if target.read_text(encoding="utf-8") == text:
            out.write(f"  {display} is already this config: unchanged\n")
            return ExitCode.OK
        if not args.force:
            err.write(f"{display} exists and differs; nothing written (--force replaces it)\n")
            return ExitCode.FINDINGS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    out.write(f"  wrote {display}; next: mlopsctl validate {target.parent.relative_to(repo.root)}\n")
    return ExitCode.OK
