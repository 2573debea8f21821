"""environments.json: the stages, in promotion order, and where each lives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_gitops.findings import Finding, json_path


@dataclass(frozen=True)
class Stage:
    name: str
    account_id: str | None = None
    region: str | None = None
    approval: bool = False
    protected: bool = False


@dataclass(frozen=True)
class Environments:
    stack_prefix: str
    region: str | None
    stages: tuple[Stage, ...]
    assets_bucket: str | None = None
    deploy_role: str | None = None  # assumed in stage accounts other than ours
    orchestrator: dict[str, Any] = field(default_factory=dict, compare=False)  # bootstrap's settings

    @property
    def deploy_role_name(self) -> str:
        return self.deploy_role or f"{self.stack_prefix}-deploy"

    @property
    def review_role_name(self) -> str:
        """The read-only role (previews, status, drift) pr-check and drift assume in other accounts."""
        return f"{self.stack_prefix}-review"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def region_of(self, name: str) -> str | None:
        stage = self.stage(name)
        return (stage.region if stage else None) or self.region

    @classmethod
    def from_data(cls, data: Any) -> Environments:
        """Best-effort model of a possibly invalid file, so configs can still be checked against it."""
        if not isinstance(data, dict):
            return DEFAULT
        prefix = data.get("stack_prefix")
        region = data.get("region")
        assets = data.get("assets_bucket")
        role = data.get("deploy_role_name")
        stages = []
        for item in data.get("stages") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                stages.append(
                    Stage(
                        item["name"],
                        item.get("account_id") if isinstance(item.get("account_id"), str) else None,
                        item.get("region") if isinstance(item.get("region"), str) else None,
                        item.get("approval") is True,
                        item.get("protected") is True,
                    )
                )
        return cls(
            prefix if isinstance(prefix, str) and prefix else DEFAULT.stack_prefix,
            region if isinstance(region, str) else None,
            tuple(stages) or DEFAULT.stages,
            assets if isinstance(assets, str) and assets else None,
            role if isinstance(role, str) and role else None,
            data["orchestrator"] if isinstance(data.get("orchestrator"), dict) else {},
        )


DEFAULT = Environments(
    "mlops",
    None,
    (Stage("dev"), Stage("staging", approval=True), Stage("prod", approval=True, protected=True)),
)


def check_environments(data: dict[str, Any], display: str) -> list[Finding]:
    """What environments.schema.json can't say: unique stage names."""
    findings = []
    seen: set[str] = set()
    for index, item in enumerate(data.get("stages") or []):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            if name in seen:
                findings.append(
                    Finding(
                        display,
                        json_path(["stages", index, "name"]),
                        "duplicate",
                        f"stage {name!r} is listed twice",
                        "give every stage its own name",
                    )
                )
            seen.add(name)
    return findings
