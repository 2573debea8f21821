"""`mlopsctl local ...`: the embedded mode. A moto server on 127.0.0.1 stands in for AWS, the
orchestrator is bootstrapped into it, and its pipeline runs here (see local/pipeline.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from mlops_gitops.errors import ExitCode, UsageError

STATE_DIR = ".mlops-local"  # in the repository; ignored by git
STATE_FILE = "server.json"


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    from mlops_gitops.defaults import DEFAULT_ACCOUNT

    p = verbs.add_parser(
        "local",
        help="run the whole pipeline on this machine, with a moto server standing in for AWS",
        description=(
            "The embedded mode: no AWS account needed. A moto server on 127.0.0.1 holds the AWS state, "
            "the orchestrator is bootstrapped into it, and the CodePipeline of "
            "cloudformation/orchestrator.yaml runs here, each CodeBuild action running its buildspec "
            f"as CodeBuild would. The local AWS is account {DEFAULT_ACCOUNT} (the examples' account)."
        ),
    )
    sub = p.add_subparsers(dest="local_verb", metavar="ACTION", parser_class=type(p))
    sub.required = True

    run = sub.add_parser(
        "run",
        help="bootstrap and run the pipeline once (source: HEAD, a commit, or the working tree)",
        description=(
            "Start a local AWS on a free port (or use the one `local up` keeps running), bootstrap the "
            "orchestrator into it, run the pipeline - Source, Validate, Deploy-<stage>, approvals - over "
            "the repository at HEAD (or --commit, or --working-tree), print a status table, and stop what "
            "it started. Approvals pass unless --pause-at-approvals. Exit 0 when the pipeline succeeded, "
            "1 when a stage failed, 3 when the local AWS could not be used."
        ),
    )
    source = run.add_mutually_exclusive_group()
    source.add_argument("--commit", metavar="REF", help="run this commit (default: HEAD)")
    source.add_argument(
        "--working-tree",
        action="store_true",
        help="run the files as they are on disk, uncommitted changes included",
    )
    run.add_argument("--git-dir", type=Path, metavar="DIR", help=argparse.SUPPRESS)  # the local remote's hook
    run.add_argument(
        "--pause-at-approvals", action="store_true", help="ask before each approval instead of passing it"
    )
    run.add_argument(
        "--seed-demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="register and approve the Model Registry versions the configs refer to, so pipelines that "
        "pin or follow them deploy (default: on; --no-seed-demo leaves the local registry empty)",
    )
    _server_options(run)
    run.set_defaults(run=run_local)

    up = sub.add_parser(
        "up",
        help="start a local AWS, bootstrap it, and leave it running",
        description="Start a moto server that outlives this command, bootstrap the orchestrator into it, and print the environment to use it with the AWS CLI, boto3 or mlopsctl. `local run` uses it; `local down` stops it.",
    )
    up.add_argument(
        "--seed-demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also register and approve the Model Registry versions the configs refer to (default: on)",
    )
    _server_options(up)
    up.set_defaults(run=run_up)

    down = sub.add_parser("down", help="stop the local AWS that `local up` started (its state is lost)")
    down.set_defaults(run=run_down)

    init = sub.add_parser(
        "init",
        help="make a local git remote whose push runs the local pipeline",
        description=(
            "Create a bare repository in .mlops-local/remote.git, add it as the git remote NAME, and "
            "install a post-receive hook: `git push NAME main` then runs `mlopsctl local run` on the "
            "pushed commit, as a push to CodeCommit starts the orchestrator's pipeline."
        ),
    )
    init.add_argument(
        "--remote-name", default="local", metavar="NAME", help="git remote name (default: local)"
    )
    init.set_defaults(run=run_init)


def _server_options(p: argparse.ArgumentParser) -> None:
    from mlops_gitops.defaults import DEFAULT_ACCOUNT

    p.add_argument("--port", type=int, metavar="N", help="port of a new local AWS (default: a free one)")
    p.add_argument(
        "--account-id",
        default=DEFAULT_ACCOUNT,
        metavar="ID",
        help=f"account of a new local AWS (default: {DEFAULT_ACCOUNT})",
    )


# ------------------------------------------------------------------ shared


def _state_path(root: Path) -> Path:
    return root / STATE_DIR / STATE_FILE


def _running(root: Path, err: TextIO | None = None):
    """The local AWS `local up` left running, or None. One it left that no longer answers is said
    (never replaced without a word: its stacks and registry are gone with it)."""
    from mlops_gitops.local.server import LocalAws, reachable

    try:
        state = json.loads(_state_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not reachable(state.get("endpoint", "")):
        if err is not None:
            err.write(
                f"local AWS: the one `local up` started on {state.get('endpoint')} (pid {state.get('pid')}) "
                f"does not answer any more (its log: {STATE_DIR}/moto.log); what it held is gone\n"
            )
        return None
    return LocalAws(state["endpoint"], state["account"], state["region"], state.get("pid"))


def _prepare(repo, err: TextIO):
    """environments.json checked and the orchestrator's parameters, before anything starts."""
    from mlops_gitops.config.validate import Report, Validator
    from mlops_gitops.ops.bootstrap import check_fits
    from mlops_gitops.report.findings import render_text

    report = Report()
    env = Validator(repo).environments(report)
    if report.errors:
        err.write(render_text(report.errors))
        raise UsageError("environments.json is invalid; fix it first (mlopsctl validate)")
    check_fits(env)
    return env


def _start(repo, env, args: argparse.Namespace, detach: bool):
    """A new local AWS; its log goes to .mlops-local/moto.log."""
    from mlops_gitops.local import server

    (repo.root / STATE_DIR).mkdir(exist_ok=True)
    return server.start(
        args.account_id,
        env.region or server.DEFAULT_REGION,
        args.port,
        repo.root / STATE_DIR / "moto.log",
        detach=detach,
    )


def _bootstrap(repo, env, local, err: TextIO, seed: bool) -> bool:
    from mlops_gitops.aws.stage import LOCAL_POLL_SECONDS
    from mlops_gitops.defaults import DEFAULT_TARGET_ROLE
    from mlops_gitops.ops.bootstrap import bootstrap, succeeded, summary

    aws = local.context()
    _, results = bootstrap(
        aws,
        env,
        repo.root,
        local.region,
        "aws",
        DEFAULT_TARGET_ROLE,
        lambda stack, event: None,
        poll_seconds=LOCAL_POLL_SECONDS,
    )
    err.write("bootstrap (local AWS):\n" + summary(results))
    if succeeded(results):
        _mirror(repo, env, local, aws, err)
    if seed:
        from mlops_gitops.local.seed import registry_needs, seed_registry

        seed_registry(
            aws.client("sagemaker"),
            registry_needs(repo, env.names),
            local.account,
            local.region,
            lambda line: err.write(line + "\n"),
        )
    return succeeded(results)


def _mirror(repo, env, local, aws, err: TextIO) -> None:
    """The orchestrator's repository, projects and pipeline, which moto's CloudFormation skips,
    made through moto's APIs so that AWS clients see them (a failure is said, not fatal)."""
    from mlops_gitops.local.mirror import mirror
    from mlops_gitops.ops.bootstrap import ORCHESTRATOR_TEMPLATE, orchestrator_parameters

    try:
        mirror(
            repo.root / ORCHESTRATOR_TEMPLATE,
            orchestrator_parameters(env),
            f"{env.stack_prefix}-orchestrator",
            local.account,
            local.region,
            aws.client,
            lambda line: err.write(line + "\n"),
        )
    except Exception as exc:  # noqa: BLE001 - the pipeline runs from the template either way
        err.write(
            f"local AWS: could not create the orchestrator's projects in moto ({type(exc).__name__}: {exc})\n"
        )


# ------------------------------------------------------------------ run


def run_local(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    import tempfile

    from mlops_gitops.local.pipeline import export_commit, export_working_tree, read_definition
    from mlops_gitops.ops.bootstrap import ORCHESTRATOR_TEMPLATE, orchestrator_parameters
    from mlops_gitops.repo import find_repo

    repo = find_repo(explicit=args.repo_root)
    env = _prepare(repo, err)
    if args.pause_at_approvals and not sys.stdin.isatty():
        raise UsageError("--pause-at-approvals asks at a terminal; stdin is not one")
    local = None if args.port else _running(repo.root, err)
    started = local is None
    if started:
        local = _start(repo, env, args, detach=False)
        err.write(
            f"local AWS: a new moto server on {local.endpoint} (pid {local.pid}, account {local.account}), "
            "stopped at the end of this run\n"
        )
    else:
        err.write(f"local AWS: using the one `local up` started on {local.endpoint}\n")
    try:
        if not _bootstrap(repo, env, local, err, args.seed_demo):
            return ExitCode.AWS
        params = orchestrator_parameters(env)
        definition = read_definition(repo.root / ORCHESTRATOR_TEMPLATE, params, local.account, local.region)
        with tempfile.TemporaryDirectory(prefix="mlops-source-") as tmp:
            if args.working_tree:
                source = export_working_tree(repo.root, Path(tmp))
            else:
                source = export_commit(repo.root, args.commit or "HEAD", Path(tmp), args.git_dir)
            source.branch = params["BranchName"]
            execution = _execute(definition, source, local, args, environ, out)
            out.write(_execution_summary(execution))
            out.write("\n")
            out.write(_status(source.directory, local, environ))
        return ExitCode.OK if execution.status == "Succeeded" else ExitCode.FINDINGS
    finally:
        if started:
            local.stop()
            err.write("local AWS: stopped\n")


def _execute(definition, source, local, args, environ: Mapping[str, str], out: TextIO):
    from mlops_gitops.local.pipeline import LocalPipeline

    environment = local.environment(dict(environ))
    bin_dir = str(Path(sys.executable).parent)  # this installation's mlopsctl comes first
    environment["PATH"] = bin_dir + os.pathsep + environment.get("PATH", os.defpath)
    ssm = local.context().client("ssm")

    def approve(stage: str, action: str, data: str) -> bool:
        out.write(f"\n{stage}.{action}: {data}\napprove? [y/N] ")
        out.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    def log(line: str) -> None:
        out.write(line.rstrip("\n") + "\n")
        out.flush()

    pipeline = LocalPipeline(
        definition,
        source,
        environment,
        local.region,
        local.account,
        log=log,
        approve=approve if args.pause_at_approvals else None,
        ssm_client=ssm,
    )
    out.write(f"pipeline {definition.name}: commit {source.commit[:12]} ({source.message})\n")
    return pipeline.run()


def _execution_summary(execution) -> str:
    """One line per action; a failed build is followed by the lines of its log that say why, so the
    reason is at the end of the output, not a screen up."""
    lines = [f"\npipeline {execution.pipeline}: {execution.status}"]
    for a in execution.actions:
        lines.append(
            f"  {a.stage:<18} {a.action:<10} {a.status:<10} {a.seconds:5.1f} s  {a.summary}".rstrip()
        )
        if a.status != "Succeeded" and a.why:
            lines += ["    why:", *(f"      {line}" for line in a.why)]
    return "\n".join(lines) + "\n"


def _status(root: Path, local, environ: Mapping[str, str]) -> str:
    """The status table of the exported commit, read from the local AWS (what `mlopsctl status`
    prints), or why it is unavailable."""
    import io

    from mlops_gitops.cli.status import run_status

    args = argparse.Namespace(
        repo_root=root, stage=None, format="text", endpoint_url=local.endpoint, region=local.region
    )
    buffer, errors = io.StringIO(), io.StringIO()
    try:
        code = run_status(args, local.environment(dict(environ)), buffer, errors)
    except Exception as exc:  # noqa: BLE001 - the run is over; the table is a bonus
        code = 1
        errors.write(f"{type(exc).__name__}: {exc}")
    return buffer.getvalue() if code == 0 else f"(status unavailable: {errors.getvalue().strip()})\n"


# ------------------------------------------------------------------ up / down / init


def run_up(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.repo import find_repo

    repo = find_repo(explicit=args.repo_root)
    env = _prepare(repo, err)
    running = _running(repo.root, err)
    if running is not None:
        out.write(f"a local AWS is already running on {running.endpoint} (mlopsctl local down stops it)\n")
        out.write(_exports(running))
        return ExitCode.OK
    local = _start(repo, env, args, detach=True)
    _state_path(repo.root).write_text(
        json.dumps(
            {"endpoint": local.endpoint, "account": local.account, "region": local.region, "pid": local.pid}
        ),
        encoding="utf-8",
    )
    local._process = None  # detached: it outlives this command
    if not _bootstrap(repo, env, local, err, args.seed_demo):
        err.write(f"the local AWS on {local.endpoint} is still running: mlopsctl local down stops it\n")
        return ExitCode.AWS
    out.write(f"local AWS running on {local.endpoint} (pid {local.pid}, account {local.account})\n")
    out.write(_exports(local))
    return ExitCode.OK


def _exports(local) -> str:
    env = local.environment({})
    keys = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    return (
        "use it with:\n"
        f"  export {' '.join(f'{k}={env[k]}' for k in keys)}\n"
        "  aws cloudformation list-stacks            # AWS CLI (sqs needs --endpoint-url)\n"
        f"  boto3.client('cloudformation', endpoint_url='{local.endpoint}')\n"
        "  mlopsctl local run                        # runs the pipeline against it\n"
        "  mlopsctl local down                       # stops it\n"
    )


def run_down(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.local.server import stop_pid
    from mlops_gitops.repo import find_repo

    repo = find_repo(explicit=args.repo_root)
    path = _state_path(repo.root)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        out.write("no local AWS is running (nothing to stop)\n")
        return ExitCode.OK
    from mlops_gitops.local.server import is_moto_server

    pid = int(state.get("pid") or 0)
    if pid and is_moto_server(pid):  # never signal a process that merely reuses a stale pid
        stop_pid(pid)
    path.unlink(missing_ok=True)
    out.write(f"local AWS on {state.get('endpoint')} stopped\n")
    return ExitCode.OK


HOOK = """#!/bin/sh
# mlops-gitops: a push to {branch} runs the local pipeline, as a push to CodeCommit starts the
# orchestrator's pipeline. The push itself is never refused; the pipeline's outcome is printed.
while read old new ref; do
  if [ "$ref" = {ref} ] && [ "$new" != "0000000000000000000000000000000000000000" ]; then
    unset GIT_DIR GIT_QUARANTINE_PATH
    {python} -m mlops_gitops --repo-root {root} local run --git-dir {git_dir} --commit "$new" \\
      || echo "mlops-gitops: the local pipeline did not succeed (exit $?)"
  fi
done
"""


def run_init(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    import shlex
    import subprocess

    from mlops_gitops.repo import find_repo

    repo = find_repo(explicit=args.repo_root)
    env = _prepare(repo, err)
    branch = env.orchestrator.get("branch", "main")
    bare = repo.root / STATE_DIR / "remote.git"

    def git(*argv: str, cwd: Path = repo.root) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *argv], cwd=cwd, capture_output=True, text=True)

    if git("rev-parse", "--git-dir").returncode != 0:
        raise UsageError(f"{repo.root} is not a git repository (git init, commit, then mlopsctl local init)")
    if not (bare / "HEAD").exists():
        made = git("init", "--bare", "--initial-branch", branch, str(bare))
        if made.returncode != 0:
            raise UsageError(f"cannot create {bare}: {made.stderr.strip()}")
    hook = bare / "hooks" / "post-receive"
    hook.write_text(
        HOOK.format(
            branch=branch.replace("\n", " "),
            ref=shlex.quote(f"refs/heads/{branch}"),
            python=shlex.quote(sys.executable),
            root=shlex.quote(str(repo.root)),
            git_dir=shlex.quote(str(bare)),
        ),
        encoding="utf-8",
    )
    hook.chmod(0o755)
    existing = git("remote", "get-url", args.remote_name)
    if existing.returncode == 0 and existing.stdout.strip() != str(bare):
        raise UsageError(
            f"git remote {args.remote_name!r} already points at {existing.stdout.strip()}; pick another --remote-name"
        )
    if existing.returncode != 0:
        git("remote", "add", args.remote_name, str(bare))
    ignore = repo.root / ".gitignore"
    if STATE_DIR not in (ignore.read_text(encoding="utf-8").split() if ignore.exists() else []):
        err.write(
            f"note: add {STATE_DIR}/ to .gitignore (it holds the local remote and the local AWS state)\n"
        )
    out.write(
        f"local remote {args.remote_name!r} -> {bare}\n"
        f"  git push {args.remote_name} {branch}     # runs the local pipeline on the pushed commit\n"
        "  mlopsctl local up                         # optional: keep one local AWS for every push\n"
    )
    return ExitCode.OK
