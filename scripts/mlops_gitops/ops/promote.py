"""`mlopsctl promote`: pin a model-package version for one stage of a pipeline, as a reviewable change.

The decision is pure (where the stage's version is pinned in the config, and the targeted edit that
changes only it); the change is then written as one commit on a new branch, either through the
CodeCommit API with a pull request opened, or in the local git repository (no working-tree change)
with the next steps printed. Rolling back is promoting an older version, or reverting the commit.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_gitops import jsonedit, names
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.environments import Stage
from mlops_gitops.errors import GitOpsError, UsageError
from mlops_gitops.report import markdown as md
from mlops_gitops.report.models import PackageFacts, package_facts, version_label

VERSION_ARN = names.MODEL_PACKAGE_VERSION_ARN


class PromotionError(GitOpsError):
    """The promotion can't be made as asked (exit 1): no such version, not approved, nothing pinned."""


# ------------------------------------------------------------------ where the version is pinned


@dataclass(frozen=True)
class PinSite:
    path: tuple[str | int, ...]  # the value to replace, or the object to add the stage's key to
    how: str  # replace | add-key | per-stage
    current: str | None  # what the stage deploys now (a version ARN, a group, or None)

    @property
    def display(self) -> str:
        out = "$"
        for step in (*self.path, *([self.stage_key] if self.how == "add-key" else [])):
            out += f"[{step}]" if isinstance(step, int) else f".{step}"
        return out

    stage_key: str = ""


def pin_site(data: dict[str, Any], stage: str, stages: list[str], variant: str | None = None) -> PinSite:
    """Where ``stage``'s model version is set: the stage's first (or named) production variant when
    it brings its own package, else model_package_name (its per-stage key, added if missing, or a
    single value turned per-stage so the other stages keep theirs)."""
    variants = data.get("production_variants")
    vpath: tuple[str | int, ...] = ("production_variants",)
    if isinstance(variants, dict):
        variants, vpath = variants.get(stage), ("production_variants", stage)
    if isinstance(variants, list) and variants:
        names = [v.get("name") for v in variants if isinstance(v, dict)]
        index = 0
        if variant is not None:
            if variant not in names:
                raise UsageError(
                    f"no variant {variant!r} in {stage!r}; its variants: {', '.join(map(str, names))}"
                )
            index = names.index(variant)
        chosen = variants[index]
        if isinstance(chosen, dict) and "model_package_name" in chosen:
            return PinSite((*vpath, index, "model_package_name"), "replace", chosen["model_package_name"])
        if index > 0:
            raise PromotionError(
                f"variant {variant!r} of {stage!r} serves the pipeline's own model, not a registry package; "
                "add its model_package_name by hand to give it one"
            )
    elif variant is not None:
        raise UsageError(f"{stage!r} has no production_variants, so there is no variant {variant!r}")
    value = data.get("model_package_name")
    if value is None:
        raise PromotionError(
            "this pipeline serves model_artifact_location, not a Model Registry package; set "
            "model_package_name (a version ARN) first, then promote"
        )
    if isinstance(value, dict):
        if stage in value:
            return PinSite(("model_package_name", stage), "replace", value[stage])
        return PinSite(("model_package_name",), "add-key", None, stage_key=stage)
    if len(stages) == 1:
        return PinSite(("model_package_name",), "replace", value)
    return PinSite(("model_package_name",), "per-stage", value)


def apply_pin(text: str, site: PinSite, stage: str, stages: list[str], arn: str) -> str:
    """The config text with ``arn`` pinned at ``site``; nothing else changes."""
    if site.how == "replace":
        new = jsonedit.replace_value(text, site.path, arn)
    elif site.how == "add-key":
        new = jsonedit.add_key(text, site.path, stage, arn)
    else:
        new = jsonedit.replace_value(
            text, site.path, {s: arn if s == stage else site.current for s in stages}
        )
    expected = jsonedit.loads(text)
    node: Any = expected
    for step in site.path[:-1]:
        node = node[step]
    last = site.path[-1]
    if site.how == "replace":
        node[last] = arn
    elif site.how == "add-key":
        node[last][stage] = arn
    else:
        node[last] = {s: arn if s == stage else site.current for s in stages}
    if jsonedit.loads(new) != expected:  # the edit must be exactly the pin: never ship anything else
        raise GitOpsError(f"internal error: the edit at {site.display} changed more than the pinned version")
    return new


def group_of(value: str | None) -> str | None:
    """The model package group a config value names (a version ARN, a group ARN or a group name)."""
    if not value:
        return None
    if value.startswith("arn:"):
        resource = value.split(":", 5)[-1]
        parts = resource.split("/")
        return parts[1] if len(parts) >= 2 else None
    return value


# ------------------------------------------------------------------ the change as words


@dataclass
class Promotion:
    pipeline_id: str
    stage: str
    file: str  # repository-relative path of the config
    site: PinSite
    new_arn: str
    new_facts: PackageFacts
    old_facts: PackageFacts | None
    base: str  # branch or ref the promotion starts from
    branch: str = ""

    @property
    def old_arn(self) -> str | None:
        return self.site.current if self.site.current and VERSION_ARN.fullmatch(self.site.current) else None

    def versions(self) -> str:
        """One line (the values come from the config and the registry)."""
        (og, ov), (ng, nv) = version_label(self.site.current), version_label(self.new_arn)
        if not self.site.current:
            text = f"{ng} {nv}"
        elif not self.old_arn:  # it followed a group
            text = f"{ng} {nv} (was: latest approved of {group_of(self.site.current)})"
        else:
            text = f"{ng} {ov} → {nv}" if og == ng else f"{og} {ov} → {ng} {nv}"
        return md.one_line(text)

    def title(self) -> str:
        """The commit's subject and the pull request's title: one line, no control characters."""
        return md.one_line(f"Promote {self.pipeline_id} to {self.stage}: {self.versions()}")[:150]

    def metrics(self, markdown: bool = False) -> list[str]:
        """One entry per metric; names and values are what the registry holds, so each is put on
        one line, and escaped as markdown text with ``markdown``."""
        from mlops_gitops.report.models import delta

        show = md.text if markdown else md.one_line
        new, old = self.new_facts.metrics, (self.old_facts.metrics if self.old_facts else {})
        names = list(
            dict.fromkeys(
                [
                    *([self.new_facts.primary_metric] if self.new_facts.primary_metric else []),
                    *sorted(new),
                    *sorted(old),
                ]
            )
        )
        out = []
        for name in names:
            o, n = old.get(name), new.get(name)
            if o is not None and n is not None:
                out.append(f"{show(name)} {show(o)} → {show(n)}{delta(o, n)}")
            else:
                out.append(
                    f"{show(name)} {show(n) if n is not None else 'not recorded'}"
                    + (f" (was {show(o)})" if o else "")
                )
        return out

    def message(self) -> str:
        """The commit message: the title, then lines each holding one value on one line (a value
        can't add a line of its own, such as a trailer)."""
        one = md.one_line
        lines = [
            self.title(),
            "",
            f"{one(self.file)} {one(self.site.display)}: {one(self.stage)} now deploys",
            f"  {one(self.new_arn)} ({one(self.new_facts.approval)} in the Model Registry)",
        ]
        if self.site.current:
            lines += ["instead of", f"  {one(self.site.current)}"]
        metrics = self.metrics()
        if metrics:
            lines += ["", "Metrics (deployed → promoted): " + "; ".join(metrics)]
        lines += ["", "Rollback: " + one(self.rollback()), "", "Made by mlopsctl promote."]
        return "\n".join(lines) + "\n"

    def rollback(self) -> str:
        if self.old_arn:
            return (
                f"mlopsctl promote {self.pipeline_id} --to {self.stage} --model-package-arn {self.old_arn}"
                " (or git revert this commit)"
            )
        return "git revert this commit"

    def _rollback_markdown(self) -> str:
        if self.old_arn:
            command = (
                f"mlopsctl promote {self.pipeline_id} --to {self.stage} --model-package-arn {self.old_arn}"
            )
            return f"{md.code(command)} (or git revert this commit)"
        return "git revert this commit"

    def description(self) -> str:
        """The pull request's description (markdown): every value escaped."""
        metrics = (
            "\n".join(f"- {m}" for m in self.metrics(markdown=True)) or "- none recorded in the registry"
        )
        old = md.code(self.site.current) if self.site.current else "none"
        return (
            f"Pins the model of **{md.text(self.pipeline_id)}** in **{md.text(self.stage)}** "
            f"({md.text(self.file)}, {md.code(self.site.display)}).\n\n"
            f"- from: {old}\n- to: {md.code(self.new_arn)} ({md.text(self.new_facts.approval)})\n\n"
            f"Metrics (deployed → promoted):\n{metrics}\n\n"
            f"The pr-check build comments the plan of every stage on this pull request.\n"
            f"Rollback: {self._rollback_markdown()}.\n"
        )[:10_240]

    def default_branch(self) -> str:
        group, version = version_label(self.new_arn)
        name = (
            f"promote/{self.pipeline_id}-{self.stage}-{group}-{version}"
            if group
            else f"promote/{self.pipeline_id}-{self.stage}"
        )
        return re.sub(r"[^A-Za-z0-9._/-]", "-", name)


# ------------------------------------------------------------------ local git


def git(root: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        raise UsageError(f"git {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def resolve(root: Path, ref: str) -> str:
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except UsageError:
        raise UsageError(f"{ref!r} is not a commit or branch of the repository in {root}") from None


def file_at(root: Path, commit: str, path: str) -> tuple[str, str]:
    """(text, file mode) of ``path`` at ``commit``."""
    listing = git(root, "ls-tree", commit, "--", path).split()
    if not listing:
        raise UsageError(f"{path} does not exist at {commit[:12]}")
    return git(root, "show", f"{commit}:{path}"), listing[0]


def commit_on_branch(
    root: Path, base_commit: str, path: str, text: str, mode: str, branch: str, message: str
) -> str:
    """One commit on a new branch, made from ``base_commit`` with ``path`` replaced: through a
    private index, so neither the working tree nor the user's index or checkout is touched."""
    if git(root, "check-ref-format", "--branch", branch).strip() != branch:
        raise UsageError(f"{branch!r} is not a valid branch name")
    if (
        subprocess.run(
            ["git", "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=root, check=False
        ).returncode
        == 0
    ):
        raise UsageError(f"branch {branch!r} exists already; delete it, or pass --branch NAME")
    blob = git(root, "hash-object", "-w", "--stdin", input=text).strip()
    with tempfile.TemporaryDirectory(prefix="mlops-promote-") as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "read-tree", base_commit, env=index)
        git(root, "update-index", "--cacheinfo", f"{mode},{blob},{path}", env=index)
        tree = git(root, "write-tree", env=index).strip()
    commit = git(root, "commit-tree", tree, "-p", base_commit, "-F", "-", input=message).strip()
    git(root, "update-ref", f"refs/heads/{branch}", commit, "0" * 40)
    return commit


def dev_value(data: dict) -> str | None:
    value = data.get("model_package_name")
    if isinstance(value, dict):
        return next((v for v in value.values() if isinstance(v, str)), None)
    return value if isinstance(value, str) else None


class Registry:
    """The stage's Model Registry (in the stage's account and region), as promote reads it."""

    def __init__(self, gateways: StageGateways, stage: Stage | None) -> None:
        self.gateways = gateways
        self.stage = stage

    def latest(self, site, data) -> str:
        group = group_of(site.current) or group_of(dev_value(data))
        if not group:
            raise PromotionError(
                "no model package group to take the latest approved version of; pass --model-package-arn"
            )
        arn = self.gateways.sagemaker.latest_approved(group)
        if arn is None:
            raise PromotionError(f"model package group {group!r} has no Approved version")
        return arn

    def facts(self, arn: str):
        package = self.gateways.sagemaker.model_package(arn)
        artifacts = self.gateways.artifacts
        return package, package_facts(package, artifacts.read if artifacts is not None else None)

    def promotion(self, args, site, arn: str, rel: str, base: str):
        package, facts = self.facts(arn)
        if package is None:
            raise PromotionError(f"{arn} is not in the Model Registry (no such model package version)")
        gated = self.stage is not None and (self.stage.approval or self.stage.protected)
        if gated and package.approval != "Approved":
            raise PromotionError(
                f"{arn} is {package.approval}; {args.stage!r} deploys only Approved versions. Approve it first "
                f"(aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved)"
            )
        old = self.facts(site.current)[1] if site.current and VERSION_ARN.fullmatch(site.current) else None
        return Promotion(args.pipeline_id, args.stage, rel, site, arn, facts, old, base)
