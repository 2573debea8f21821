"""Run the orchestrator's CodePipeline on this machine, as CodePipeline would.

moto keeps AWS state but runs no pipeline: AWS::CodePipeline::Pipeline and AWS::CodeBuild::Project
are ignored by its CloudFormation. So the definition is read from cloudformation/orchestrator.yaml
itself - evaluated with the parameters bootstrap gives it - never written a second time here:
stages in order; in a stage, actions by RunOrder; Source actions produce the commit's files and
their output variables (#{SourceVariables.CommitId}); CodeBuild actions run their project's buildspec
with the local buildspec runner (project variables, then the action's EnvironmentVariables, as
StartBuild overrides); Manual approvals pass, or wait for an answer with ``pause_at_approvals``. The
first failed stage ends the execution, as it does in CodePipeline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import _parse
from mlops_gitops.errors import GitOpsError

_VARIABLE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_-]+)\}")


class PipelineError(GitOpsError):
    """The pipeline definition can't run (CodePipeline would refuse it too)."""


@dataclass(frozen=True)
class Action:
    name: str
    category: str  # Source | Build | Test | Approval
    provider: str  # CodeCommit | CodeStarSourceConnection | CodeBuild | Manual
    configuration: dict[str, str]
    input_artifacts: tuple[str, ...] = ()
    output_artifacts: tuple[str, ...] = ()
    namespace: str | None = None
    run_order: int = 1


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Project:
    name: str
    buildspec: str  # path in the source, or inline YAML
    variables: dict[str, str]
    timeout_minutes: int = 60
    # BuildBatchConfig: whether the project runs batch builds, and Restrictions.MaximumBuildsAllowed
    batch: bool = False
    max_batch_builds: int | None = None


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    stages: tuple[Stage, ...]
    projects: dict[str, Project]


def read_definition(
    template: Path, parameters: Mapping[str, str], account: str, region: str
) -> PipelineDefinition:
    """The pipeline and its CodeBuild projects as CloudFormation would create them."""
    body = _parse(template.read_text(encoding="utf-8"))
    ev = Evaluator(
        body, parameter_values(body, parameters), {"AWS::AccountId": account, "AWS::Region": region}
    )
    pipelines = [n for n, r in body["Resources"].items() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise PipelineError(
            f"{template.name}: expected one AWS::CodePipeline::Pipeline, found {len(pipelines)}"
        )
    props = ev.resource(pipelines[0])["Properties"]
    stages = tuple(
        Stage(
            s["Name"],
            tuple(
                Action(
                    a["Name"],
                    a["ActionTypeId"]["Category"],
                    a["ActionTypeId"]["Provider"],
                    {k: str(v) for k, v in (a.get("Configuration") or {}).items()},
                    tuple(i["Name"] for i in a.get("InputArtifacts", [])),
                    tuple(o["Name"] for o in a.get("OutputArtifacts", [])),
                    a.get("Namespace"),
                    int(a.get("RunOrder", 1)),
                )
                for a in s["Actions"]
            ),
        )
        for s in props["Stages"]
    )
    projects = {}
    for name, resource in body["Resources"].items():
        if resource["Type"] == "AWS::CodeBuild::Project" and ev.present(name):
            p = ev.resource(name)["Properties"]
            projects[p["Name"]] = Project(
                p["Name"],
                p["Source"].get("BuildSpec", "buildspec.yml"),
                {v["Name"]: str(v["Value"]) for v in p["Environment"].get("EnvironmentVariables", [])},
                int(p.get("TimeoutInMinutes", 60)),
                "BuildBatchConfig" in p,
                _max_builds(p.get("BuildBatchConfig")),
            )
    definition = PipelineDefinition(str(props["Name"]), stages, projects)
    check_structure(definition)
    return definition


def check_structure(d: PipelineDefinition) -> None:
    """CodePipeline's structure rules: sources first and only there, unique names, inputs made
    earlier, projects that exist."""
    if len(d.stages) < 2:
        raise PipelineError(f"{d.name}: a pipeline needs at least 2 stages")
    names = [s.name for s in d.stages]
    if len(set(names)) != len(names):
        raise PipelineError(f"{d.name}: stage names repeat: {names}")
    made: set[str] = set()
    for index, stage in enumerate(d.stages):
        sources = [a.category == "Source" for a in stage.actions]
        if index == 0 and not all(sources):
            raise PipelineError(f"{d.name}: the first stage may hold only source actions")
        if index > 0 and any(sources):
            raise PipelineError(f"{d.name}: stage {stage.name} holds a source action; only the first may")
        action_names = [a.name for a in stage.actions]
        if len(set(action_names)) != len(action_names):
            raise PipelineError(f"{d.name}: stage {stage.name} repeats an action name")
        for order in sorted({a.run_order for a in stage.actions}):
            group = [a for a in stage.actions if a.run_order == order]
            for action in group:
                missing = set(action.input_artifacts) - made
                if missing:
                    raise PipelineError(
                        f"{d.name}: {stage.name}.{action.name} reads {sorted(missing)}, made by no earlier action"
                    )
                if (
                    action.provider == "CodeBuild"
                    and action.configuration.get("ProjectName") not in d.projects
                ):
                    raise PipelineError(
                        f"{d.name}: {stage.name}.{action.name} runs project "
                        f"{action.configuration.get('ProjectName')!r}, which the template does not create"
                    )
            for action in group:
                made.update(action.output_artifacts)


# ------------------------------------------------------------------ execution


@dataclass
class ActionResult:
    stage: str
    action: str
    status: str  # Succeeded | Failed
    summary: str = ""
    seconds: float = 0.0
    why: list[str] = field(default_factory=list)  # a failed build's lines that say what failed


@dataclass
class Execution:
    pipeline: str
    # #{codepipeline.PipelineExecutionId}: CodePipeline's one variable every execution has
    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html)
    execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "InProgress"  # Succeeded | Failed
    actions: list[ActionResult] = field(default_factory=list)
    stage_status: dict[str, str] = field(default_factory=dict)


@dataclass
class Source:
    """What the source action hands on: the files of one commit and the action's variables."""

    directory: Path
    commit: str
    branch: str
    message: str = ""
    repository: str = ""


def export_commit(repo_root: Path, commit: str, target: Path, git_dir: Path | None = None) -> Source:
    """The files of ``commit`` (no .git), as CodePipeline's CODE_ZIP source artifact holds them."""
    git = ["git", *(["--git-dir", str(git_dir)] if git_dir else ["-C", str(repo_root)])]
    try:
        sha = _git(git + ["rev-parse", "--verify", f"{commit}^{{commit}}"]).strip()
        message = _git(git + ["log", "-1", "--format=%s", sha]).strip()
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            git + ["archive", "--format=tar", sha], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True, capture_output=True)
    except FileNotFoundError as exc:
        raise GitOpsError(
            f"{exc.filename} is not installed: the local pipeline reads the source with git and tar"
        ) from exc
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise GitOpsError(
            f"cannot read commit {commit!r} of {git_dir or repo_root}: {detail.strip() or exc}"
        ) from exc
    return Source(target, sha, "", message)


def export_working_tree(repo_root: Path, target: Path) -> Source:
    """Tracked and untracked (not ignored) files as they are on disk: try a change before committing."""
    try:
        listed = _git(
            ["git", "-C", str(repo_root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        )
        head = _git(["git", "-C", str(repo_root), "rev-parse", "HEAD"]).strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GitOpsError(f"{repo_root} is not a git repository with a commit: {exc}") from exc
    for rel in filter(None, listed.split("\0")):
        src = repo_root / rel
        if src.is_file():
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return Source(target, head, "", "working tree (uncommitted changes included)")


def _git(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@dataclass
class LocalPipeline:
    definition: PipelineDefinition
    source: Source
    environment: dict[str, str]  # the base environment of every build (AWS endpoint, PATH...)
    region: str
    account: str
    log: Callable[[str], None] = print
    approve: Callable[[str, str, str], bool] | None = None  # (stage, action, custom data) -> approved?
    ssm_client: Any = None
    work_dir: Path | None = None
    _why: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # failed build -> its lines

    def run(self) -> Execution:
        execution = Execution(self.definition.name)
        variables: dict[str, dict[str, str]] = {
            "codepipeline": {"PipelineExecutionId": execution.execution_id}
        }
        artifacts: dict[str, Path] = {}
        with tempfile.TemporaryDirectory(prefix="mlops-local-", dir=self.work_dir) as tmp:
            for stage in self.definition.stages:
                execution.stage_status[stage.name] = "InProgress"
                self.log(f"==> stage {stage.name}")
                ok = True
                for order in sorted({a.run_order for a in stage.actions}):
                    for action in [a for a in stage.actions if a.run_order == order]:
                        started = time.monotonic()
                        try:
                            status, summary = self._action(stage, action, variables, artifacts, Path(tmp))
                        except GitOpsError as exc:
                            status, summary = "Failed", str(exc)
                        result = ActionResult(
                            stage.name,
                            action.name,
                            status,
                            summary,
                            time.monotonic() - started,
                            self._why.pop((stage.name, action.name), []),
                        )
                        execution.actions.append(result)
                        self.log(
                            f"<== {stage.name}.{action.name}: {status}" + (f" ({summary})" if summary else "")
                        )
                        ok = ok and status == "Succeeded"
                    if not ok:  # actions of a later RunOrder don't start
                        break
                execution.stage_status[stage.name] = "Succeeded" if ok else "Failed"
                if not ok:
                    execution.status = "Failed"
                    return execution
        execution.status = "Succeeded"
        return execution

    # ------------------------------------------------------------------ actions

    def _action(
        self,
        stage: Stage,
        action: Action,
        variables: dict[str, dict[str, str]],
        artifacts: dict[str, Path],
        tmp: Path,
    ) -> tuple[str, str]:
        config = {k: resolve_variables(v, variables) for k, v in action.configuration.items()}
        if action.category == "Source":
            for name in action.output_artifacts:
                target = tmp / "artifacts" / name
                shutil.copytree(self.source.directory, target, dirs_exist_ok=True)
                artifacts[name] = target
            if action.namespace:
                variables[action.namespace] = {
                    "CommitId": self.source.commit,
                    "BranchName": config.get("BranchName", self.source.branch),
                    "CommitMessage": self.source.message,
                    "RepositoryName": config.get("RepositoryName", config.get("FullRepositoryId", "")),
                }
            return "Succeeded", f"commit {self.source.commit[:12]}"
        if action.category == "Approval":
            data = config.get("CustomData", "")
            if self.approve is None:
                return "Succeeded", "approved automatically (run with --pause-at-approvals to decide)"
            if self.approve(stage.name, action.name, data):
                return "Succeeded", "approved"
            return "Failed", "rejected"
        if action.provider == "CodeBuild":
            return self._build(stage, action, config, variables, artifacts, tmp)
        raise PipelineError(f"{stage.name}.{action.name}: provider {action.provider} can't run locally")

    def _build(
        self,
        stage: Stage,
        action: Action,
        config: dict[str, str],
        variables: dict[str, dict[str, str]],
        artifacts: dict[str, Path],
        tmp: Path,
    ) -> tuple[str, str]:
        from mlops_gitops.local.buildspec import load_buildspec, run_build

        project = self.definition.projects[config["ProjectName"]]
        primary = config.get("PrimarySource") or action.input_artifacts[0]
        # Each build gets its own copy of the input, as CodeBuild downloads the artifact afresh.
        src = tmp / "builds" / f"{stage.name}-{action.name}"
        shutil.copytree(artifacts[primary], src, dirs_exist_ok=True)
        spec_path = src / project.buildspec
        if not spec_path.is_file():
            return "Failed", f"{project.buildspec} is not in the source"
        overrides = {**project.variables}
        for item in json.loads(config.get("EnvironmentVariables") or "[]"):
            if item.get("type", "PLAINTEXT") != "PLAINTEXT":
                raise PipelineError(f"{stage.name}.{action.name}: {item['type']} variables can't run locally")
            overrides[item["name"]] = item["value"]
        if config.get("BatchEnabled", "").lower() == "true":
            return self._batch(stage, action, project, artifacts[primary], src, overrides, tmp)
        seen: list[str] = []

        def log(line: str) -> None:
            seen.append(line)
            self.log(f"[{stage.name}] {line}")

        result = run_build(
            load_buildspec(spec_path),
            src_dir=src,
            project_name=project.name,
            env=overrides,
            base_env=self.environment,
            source_version=self.source.commit,
            resolved_source_version=self.source.commit,
            initiator=f"codepipeline/{self.definition.name}",
            ssm_client=self.ssm_client,
            log=log,
            region=self.region,
            account_id=self.account,
            timeout=project.timeout_minutes * 60.0,
        )
        if action.namespace:
            variables[action.namespace] = dict(result.exported_variables)
        reports = "; ".join(
            f"report {r.group_name}: {r.total('tests')} tests, {r.total('failures')} failures"
            for r in result.reports
        )
        if result.succeeded:
            return "Succeeded", reports
        failed = next((p for p in result.phases if p.status not in ("SUCCEEDED", "SKIPPED")), None)
        where = f"{failed.phase_type}: {failed.message or failed.failed_command}" if failed else result.status
        self._why[(stage.name, action.name)] = failure_lines(seen)
        return "Failed", f"build {result.status} in {where}" + (f"; {reports}" if reports else "")

    def _batch(
        self,
        stage: Stage,
        action: Action,
        project: Project,
        source: Path,
        first: Path,
        overrides: dict[str, str],
        tmp: Path,
    ) -> tuple[str, str]:
        """A BatchEnabled action: the project's buildspec's batch, each build with its own copy of
        the source (local.batch has CodeBuild's rules)."""
        from mlops_gitops.local.batch import BatchError, run_batch
        from mlops_gitops.local.buildspec import BuildspecError, load_buildspec, run_build

        if not project.batch:
            return "Failed", f"BatchEnabled, but project {project.name} has no BuildBatchConfig"
        spec = load_buildspec(first / project.buildspec)
        if spec.batch is None:
            return "Failed", f"BatchEnabled, but {project.buildspec} has no batch section"
        seen: list[str] = []

        def one(task, variables: dict[str, str]) -> tuple[bool, str]:  # noqa: ANN001 - a BatchTask
            src = tmp / "builds" / f"{stage.name}-{action.name}-{task.identifier}"
            shutil.copytree(source, src, dirs_exist_ok=True)
            initiator = variables.pop("CODEBUILD_INITIATOR")

            def log(line: str) -> None:
                seen.append(line)
                self.log(f"[{stage.name}:{task.identifier}] {line}")

            try:
                buildspec = load_buildspec(src / (task.buildspec or project.buildspec))
            except BuildspecError as exc:
                return False, str(exc)
            result = run_build(
                buildspec,
                src_dir=src,
                project_name=project.name,
                env={**overrides, **variables},
                base_env=self.environment,
                source_version=self.source.commit,
                resolved_source_version=self.source.commit,
                initiator=initiator,
                ssm_client=self.ssm_client,
                log=log,
                region=self.region,
                account_id=self.account,
                timeout=project.timeout_minutes * 60.0,
            )
            return result.succeeded, result.status

        try:
            batch = run_batch(spec.batch, one, project.name, project.max_batch_builds, self.log)
        except BatchError as exc:
            return "Failed", str(exc)
        if batch.status == "SUCCEEDED":
            return "Succeeded", batch.summary()
        self._why[(stage.name, action.name)] = failure_lines(seen)
        return "Failed", batch.summary()


def _max_builds(config: Any) -> int | None:
    restrictions = config.get("Restrictions") if isinstance(config, dict) else None
    value = restrictions.get("MaximumBuildsAllowed") if isinstance(restrictions, dict) else None
    return int(value) if value is not None else None


_DEPLOY_ROW = re.compile(r"^\S+\s+\S+\s+\S+\s+(failed|blocked|unknown)\b")


def failure_lines(lines: list[str], limit: int = 12) -> list[str]:
    """What a failed build said about why: deploy's rows that failed or were blocked, findings
    (`<file>: <path>: ...`) and mlopsctl's own error lines; the last ``limit`` of them."""
    keep = [
        line.rstrip()
        for line in lines
        if _DEPLOY_ROW.match(line)
        or line.startswith(("pipeline-configs/", "mlopsctl: ", "cloudformation/", "deploy: shard "))
    ]
    return keep[-limit:]


def resolve_variables(value: str, variables: Mapping[str, Mapping[str, str]]) -> str:
    """#{Namespace.Name} as CodePipeline resolves it before the action starts."""

    def one(match: re.Match[str]) -> str:
        namespace, name = match.groups()
        try:
            return variables[namespace][name]
        except KeyError:
            raise PipelineError(
                f"variable #{{{namespace}.{name}}} is not set by any earlier action"
            ) from None

    return _VARIABLE.sub(one, value)
