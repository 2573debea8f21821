"""Validate configs and environments.json: parse -> normalise -> schema -> semantic checks.

Nothing here touches AWS or raises for bad user input: every problem is a Finding.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops import names
from mlops_gitops.config import keywords, references
from mlops_gitops.config.environments import DEFAULT, Environments, check_environments, may_share_account
from mlops_gitops.config.jsonfile import load_json, read_regular
from mlops_gitops.config.normalize import normalize
from mlops_gitops.config.rules import Context, semantic_findings
from mlops_gitops.config.rules.base import is_stage_map, pipeline_stages
from mlops_gitops.config.rules.job_names import job_name_prefix_findings
from mlops_gitops.config.rules.secrets import redact
from mlops_gitops.config.schema import CONFIG_SCHEMA, ENVIRONMENTS_SCHEMA, load_schema
from mlops_gitops.config.schema_findings import prune, to_findings
from mlops_gitops.errors import RepoError
from mlops_gitops.findings import Finding, json_path, sort_findings
from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR, ENVIRONMENTS_FILE, OutsideRepo, Repo


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]


@dataclass(frozen=True)
class PipelineConfig:
    """A config that passed validation, normalised (MWO string forms converted)."""

    pipeline_id: str
    path: Path
    data: dict[str, Any]
    stages: tuple[str, ...]
    # the config as each stage sees it: per-stage dicts replaced by that stage's value
    by_stage: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pipeline_type(self) -> str:
        return self.data["pipeline_type"]


class Validator:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        try:
            self.schema = load_schema(repo.configs_dir / CONFIG_SCHEMA)
            self.env_schema = load_schema(repo.configs_dir / ENVIRONMENTS_SCHEMA)
        except (OSError, ValueError) as exc:
            raise RepoError(f"cannot load the schemas in {repo.configs_dir}: {exc}") from exc
        self._pipelines: dict[str, str | None] | None = None
        # environments.json read and checked once per Validator: (what it says, its findings, the
        # file to list as checked, or None when it is missing)
        self._environments: tuple[Environments, list[Finding], str | None] | None = None

    # ------------------------------------------------------------ environments

    def environments(self, report: Report | None = None) -> Environments:
        if self._environments is None:
            self._environments = self._read_environments()
        env, findings, checked = self._environments
        if report is not None:
            if checked is not None:
                report.checked.append(checked)
            report.findings.extend(findings)
        return env

    def _read_environments(self) -> tuple[Environments, list[Finding], str | None]:
        path = self.repo.environments_file
        display = self.repo.display(path)
        if not os.path.lexists(path):
            missing = Finding(
                display,
                "$",
                "file-missing",
                "environments.json is missing",
                "create it: it lists the stages (see README)",
            )
            return DEFAULT, [missing], None
        try:
            real = self.repo.resolve_inside(path, ENVIRONMENTS_FILE)
        except OutsideRepo as exc:
            return DEFAULT, [Finding(display, "$", exc.code, exc.message, exc.hint)], display
        data, findings = load_json(
            real, display, example='{"stack_prefix": "mlops", "stages": [{"name": "dev"}, ...]}'
        )
        if data is not None:
            findings += to_findings(self.env_schema.validator.iter_errors(data), display)
            findings += check_environments(data, display)
        return Environments.from_data(data), findings, display

    # ------------------------------------------------------------ configs

    def pipelines(self) -> dict[str, str | None]:
        """Every pipeline id in the repository -> its pipeline_type, read leniently (for references)."""
        if self._pipelines is None:
            self._pipelines = {}
            for entry in self.repo.scan()[0]:
                ptype = None
                if entry.real is not None:  # a broken one is reported where it is checked
                    try:
                        data = json.loads(read_regular(entry.real).decode("utf-8-sig"))
                        ptype = data.get("pipeline_type") if isinstance(data, dict) else None
                    except (OSError, ValueError, RecursionError):
                        ptype = None
                self._pipelines[entry.pipeline_id] = ptype if isinstance(ptype, str) else None
        return self._pipelines

    def check_config(self, path: Path, env: Environments) -> tuple[PipelineConfig | None, list[Finding]]:
        config, findings = self._check_config(path, env)
        return config, [f.of_pipeline(path.parent.name) for f in findings]

    def _check_config(self, path: Path, env: Environments) -> tuple[PipelineConfig | None, list[Finding]]:
        display = self.repo.display_lexical(path)
        # The repository is a boundary: a path in it is followed only to a regular file inside it.
        # A path outside it is one the program chose (promote checks its edit in a temporary
        # folder; the command line refuses such paths in expand_paths): read as given, regular
        # files only (load_json).
        real = path
        if self.repo.contains_lexically(path):
            try:
                real = self.repo.resolve_inside(path)
            except OutsideRepo as exc:
                return None, [Finding(display, "$", exc.code, exc.message, exc.hint)]
        data, findings = load_json(real, display)
        if data is None:
            return None, findings
        data, coerced = normalize(data, self.schema, display)
        findings += coerced
        ptype = data.get("pipeline_type")
        token = keywords.CURRENT_PIPELINE_TYPE.set(ptype if isinstance(ptype, str) else None)
        try:
            findings += to_findings(
                self.schema.validator_for(ptype).iter_errors(data), display, self.schema.raw["properties"]
            )
        finally:
            keywords.CURRENT_PIPELINE_TYPE.reset(token)
        ctx = Context(display, path.parent.name, env, self.schema, self.pipelines)
        findings += semantic_findings(data, ctx)
        findings = redact(prune(findings), data)
        if any(f.is_error for f in findings):
            return None, findings
        stages = tuple(pipeline_stages(data, env))
        by_stage = {stage: self._for_stage(data, stage) for stage in stages}
        return PipelineConfig(path.parent.name, path, data, stages, by_stage), findings

    def _for_stage(self, data: dict[str, Any], stage: str) -> dict[str, Any]:
        out = {}
        for name, value in data.items():
            info = self.schema.fields.get(name)
            out[name] = value[stage] if info is not None and is_stage_map(info, value) else value
        return out


def cross_config_findings(configs: Iterable[PipelineConfig], repo: Repo, env: Environments) -> list[Finding]:
    """Two real-time pipelines may not claim the same endpoint name in the same stage, whether the
    name is written in the config or is the default (the resource base name)."""
    owners: dict[tuple[str, str], str] = {}
    clashes: dict[tuple[str, tuple, str, str], list[str]] = {}  # (file, path, other, own) -> stages
    for cfg in sorted(configs, key=lambda c: c.pipeline_id):
        if not references.is_realtime(cfg.pipeline_type):
            continue
        written = cfg.data.get("endpoint_name")
        for stage in cfg.stages:
            name = references.served_endpoint(cfg.by_stage[stage], env.stack_prefix, cfg.pipeline_id, stage)
            key = (stage, name.lower())
            if key in owners:
                path = (
                    ("endpoint_name", stage)
                    if isinstance(written, dict)
                    else ("endpoint_name",)
                    if written
                    else ()
                )
                clashes.setdefault((repo.display(cfg.path), path, owners[key], cfg.pipeline_id), []).append(
                    stage
                )
            else:
                owners[key] = cfg.pipeline_id
    return [
        Finding(
            file,
            json_path(list(path)),
            "duplicate",
            f"the endpoint name in stage{'s' if len(stages) > 1 else ''} {', '.join(stages)} is also used by pipeline {other!r}",
            "give each real-time pipeline its own endpoint_name",
            pipeline_id=pipeline_id,
        )
        for (file, path, other, pipeline_id), stages in clashes.items()
    ]


# Names a pipeline's stack CREATES that AWS allows once per account and region (S3 buckets: once
# in the partition). Pipelines that only REFER to a name (a model package group an endpoint
# deploys from) claim nothing. Endpoints are checked above, with their defaults.
_CLAIM_KINDS = {
    "ecr": "ECR repository",
    "glue": "Glue database",
    "bucket": "S3 bucket",
    "group": "model package group",
    "feature": "feature group",
}


def _claims(cfg: PipelineConfig, env: Environments) -> list[tuple[str, str, str, list]]:
    """(kind, stage, name, JSON path of the key that sets it) for each name ``cfg`` creates."""
    out: list[tuple[str, str, str, list]] = []

    def path_of(key: str, stage: str) -> list:
        written = cfg.data.get(key)
        return [key, stage] if isinstance(written, dict) and stage in written else [key] if written else []

    for stage in cfg.stages:
        values = cfg.by_stage[stage]
        base = names.resource_base_name(env.stack_prefix, cfg.pipeline_id, stage)
        if cfg.pipeline_type == "byom_image_builder" and isinstance(values.get("ecr_repo_name"), str):
            out.append(("ecr", stage, values["ecr_repo_name"], ["ecr_repo_name"]))
        elif cfg.pipeline_type == "data_lake":
            glue = values.get("glue_database_name") or base.replace("-", "_")
            out.append(("glue", stage, glue, path_of("glue_database_name", stage)))
            if isinstance(values.get("lake_bucket_name"), str) and values["lake_bucket_name"]:
                out.append(("bucket", stage, values["lake_bucket_name"], path_of("lake_bucket_name", stage)))
            group = values.get("feature_group")
            if isinstance(group, dict):
                named = isinstance(group.get("name"), str) and group["name"]
                out.append(
                    (
                        "feature",
                        stage,
                        named or base,
                        ["feature_group", "name"] if named else ["feature_group"],
                    )
                )
        elif cfg.pipeline_type == "model_training_pipeline":
            group = names.model_package_group(
                values.get("model_package_group_name") or f"{env.stack_prefix}-{cfg.pipeline_id}",
                stage,
                env.after_a_stage_in_its_account(cfg.stages, stage),
            )
            out.append(("group", stage, group, path_of("model_package_group_name", stage)))
    return out


def name_claim_findings(configs: Iterable[PipelineConfig], repo: Repo, env: Environments) -> list[Finding]:
    """One finding per name two pipelines' stacks would both create where AWS allows it once.
    Stages without an account_id share the pipeline account."""
    owners: dict[tuple, tuple[str, str, str]] = {}  # (kind, scope, name) -> (pipeline, stage, file)
    out: dict[tuple, Finding] = {}
    # The orchestrator stack (pipeline account, environments.json's region) makes these groups.
    groups = env.orchestrator.get("model_package_groups")
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        if isinstance(group, str):
            scope = ("pipeline-account", env.region or "")
            owners.setdefault(("group", scope, group.lower()), ("", str(index), ""))
    for cfg in sorted(configs, key=lambda c: c.pipeline_id):
        for kind, stage, name, path in _claims(cfg, env):
            st = env.stage(stage)
            scope = (
                "global"
                if kind == "bucket"
                else ((st.account_id if st else None) or "pipeline-account", env.region_of(stage) or "")
            )
            key = (kind, scope, name.lower() if kind != "glue" else name)
            if key not in owners:
                owners[key] = (cfg.pipeline_id, stage, repo.display_lexical(cfg.path))
                continue
            other, other_stage, other_file = owners[key]
            if other == cfg.pipeline_id:
                # the per-pipeline rules report buckets, Glue databases and ECR repositories; a
                # training pipeline's stages sharing an account get a group each
                # (names.model_package_group)
                continue
            where = "in the same account and region" if kind != "bucket" else "(bucket names are global)"
            if not other:  # the orchestrator's own group
                by = f"the orchestrator ({ENVIRONMENTS_FILE} $.orchestrator.model_package_groups[{other_stage}])"
            elif other == cfg.pipeline_id:
                by = f"stage {other_stage!r}"
            else:
                by = f"pipeline {other!r} ({other_file}), stage {other_stage!r}"
            message = f"the {_CLAIM_KINDS[kind]} {name!r} of stage {stage!r} is also created by {by} {where}; AWS allows it once"
            finding = Finding(
                repo.display_lexical(cfg.path),
                json_path(path),
                "name-collision",
                message,
                "give each pipeline its own name"
                if other
                else "give this pipeline its own name, or drop the group from orchestrator.model_package_groups",
                pipeline_id=cfg.pipeline_id,
            )
            out.setdefault((cfg.pipeline_id, kind, tuple(path), other), finding)
    return list(out.values())


def name_prefix_findings(configs: Iterable[PipelineConfig], repo: Repo, env: Environments) -> list[Finding]:
    """A stack whose name starts with another pipeline's stack name and a hyphen, in the same account
    and region: the other stack's notify topic admits alarms and rules by its name prefix
    (aws:SourceArn `<stack>-*`) and its job-outcome rules match jobs by it, so this pipeline's
    alarms, rules and jobs would reach the other pipeline's owners (and could speak for them)."""
    # A stage without an account_id may share an account with any stage (may_share_account).
    stacks: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}  # (region, stack) -> owners
    files: dict[str, str] = {}
    for cfg in configs:
        files[cfg.pipeline_id] = repo.display_lexical(cfg.path)
        for stage in cfg.stages:
            st = env.stage(stage)
            account = (st.account_id if st else None) or ""
            stack = names.stack_name(env.stack_prefix, cfg.pipeline_id, stage)
            stacks.setdefault((env.region_of(stage) or "", stack), []).append(
                (account, cfg.pipeline_id, stage, "")
            )
    clashes: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}  # (pipeline, other) -> ...
    for (region, stack), owners in sorted(stacks.items(), key=lambda kv: kv[0][1]):
        for account, pid, stage, _ in owners:
            for cut in (i for i, ch in enumerate(stack) if ch == "-"):
                under = [
                    o
                    for o in stacks.get((region, stack[:cut]), [])
                    if o[1] != pid and may_share_account(o[0], account)
                ]
                if under:
                    clashes.setdefault((pid, under[0][1]), []).append(
                        (stage, stack, stack[:cut], under[0][2])
                    )
                    break
    out: list[Finding] = []
    for (pid, other), found in sorted(clashes.items()):
        stages = ", ".join(f"{stage!r} ({stack!r} under {prefix!r})" for stage, stack, prefix, _ in found)
        mine, theirs = found[0][0], found[0][3]
        out.append(
            Finding(
                files[pid],
                "$",
                "name-prefix",
                f"{'stage' if len(found) == 1 else 'stages'} {stages}: the stack and its resources' names start with the stack name of "
                f"pipeline {other!r} ({files[other]}) and a hyphen, in the same region and account (a stage "
                "without account_id deploys to the pipeline account, which may be any of them); that "
                "stack's notify topic and event rules take every name under its prefix as its own, so this "
                "pipeline's alarms, rules and job outcomes would reach the other pipeline's owners",
                f"rename the folder pipeline-configs/{pid}/ so that '{pid}-{mine}' does not start with "
                f"'{other}-{theirs}-'",
                pipeline_id=pid,
            )
        )
    return out


def validate(
    repo: Repo, paths: list[Path] | None = None, validator: Validator | None = None
) -> tuple[Report, list[PipelineConfig]]:
    """Check ``paths`` (files or folders; default: the whole repository). Never raises on bad input.

    The repository's layout is checked too: a pipeline folder whose config can't be read (missing,
    misnamed, a dangling link, a link out of the repository, not a regular file) is an error, and
    configs deploy would never read (nested, misplaced, beside pipeline-configs/) are warnings, or
    errors when named on the command line. ``validator``: one the caller goes on using (the
    physical-name check after this), so schemas and environments.json are read once."""
    validator = validator or Validator(repo)
    report = Report()
    env = validator.environments(report)
    entries, layout = repo.scan()
    valid: list[PipelineConfig] = []
    if paths:
        targets, explicit = expand_paths(repo, paths, entries)
        wanted = {e.pipeline_id for e in targets}
        report.findings.extend(explicit)
        report.findings.extend(f for f in layout if f.pipeline_id in wanted and f.is_error)
    else:
        targets = entries
        report.findings.extend(layout)
    broken = {f.pipeline_id for f in layout if f.is_error and f.pipeline_id}
    for entry in targets:
        report.checked.append(repo.display_lexical(entry.path))
        if entry.real is None or entry.pipeline_id in broken:
            continue  # its layout finding says why
        config, findings = validator.check_config(entry.path, env)
        report.findings.extend(findings)
        if config is not None:
            valid.append(config)
    report.findings.extend(cross_config_findings(valid, repo, env))
    report.findings.extend(name_claim_findings(valid, repo, env))
    report.findings.extend(name_prefix_findings(valid, repo, env))
    report.findings.extend(job_name_prefix_findings(valid, repo, env))
    report.findings = sort_findings(report.findings)
    return report, valid


def expand_paths(repo: Repo, paths: list[Path], entries=None) -> tuple[list, list[Finding]]:
    """The pipeline folders ``paths`` name (a config, its folder, pipeline-configs/ or the root),
    and an error for each path that names a config deploy would never read."""
    from mlops_gitops.repo import ConfigEntry

    if entries is None:
        entries = repo.scan()[0]
    by_id = {e.pipeline_id: e for e in entries}
    configs_dir = Path(os.path.abspath(repo.configs_dir))
    root = Path(os.path.abspath(repo.root))
    out: list[ConfigEntry] = []
    findings: list[Finding] = []

    def refuse(path: Path, why: str) -> None:
        findings.append(
            Finding(
                repo.display_lexical(path),
                "$",
                "not-deployed",
                f"this file is never deployed: {why}",
                f"deploy reads {CONFIGS_DIR}/<id>/{CONFIG_FILE} only; move it there to deploy it",
            )
        )

    for given in paths:
        path = Path(os.path.abspath(given))
        if not os.path.lexists(path):
            raise RepoError(f"{given}: no such file or folder")
        if path in (root, configs_dir):
            out.extend(entries)
        elif path.parent == configs_dir and path.name in by_id:
            out.append(by_id[path.name])
        elif path.parent.parent == configs_dir and path.parent.name in by_id and path.name == CONFIG_FILE:
            out.append(by_id[path.parent.name])
        elif path.parent == configs_dir and (
            path.name == ENVIRONMENTS_FILE or path.name.endswith(".schema.json")
        ):
            continue  # environments.json is always checked; schemas are not configs
        elif not path.is_relative_to(root):
            raise RepoError(f"{given}: outside the repository {repo.root}; nothing outside it is read")
        elif os.path.isdir(path) and not os.path.islink(path):
            found = [
                Path(here) / CONFIG_FILE
                for here, dirs, files in os.walk(path, followlinks=False)
                if CONFIG_FILE in files
            ]
            if not found:
                raise RepoError(f"{given}: no {CONFIG_FILE} in this folder or below")
            for item in sorted(found):
                if item.parent.parent == configs_dir and item.parent.name in by_id:
                    out.append(by_id[item.parent.name])
                else:
                    refuse(item, f"it is not at {CONFIGS_DIR}/<id>/{CONFIG_FILE}")
        elif path.parent.parent == configs_dir and path.name != CONFIG_FILE:
            refuse(path, f"a pipeline's config must be named {CONFIG_FILE}")
        else:
            refuse(path, f"it is not at {CONFIGS_DIR}/<id>/{CONFIG_FILE}")
    return sorted(dict.fromkeys(out), key=lambda e: e.pipeline_id), findings
