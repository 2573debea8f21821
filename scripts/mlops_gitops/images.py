"""Built-in SageMaker image URIs: framework + version + region (+ instance type) -> ECR image.

The data is the SageMaker SDK's own (see scripts/update_image_uris.py); this module only follows
the SDK's rules: version aliases, per-region registry accounts, and tags built from the version
(or tag prefix), processor, Python version and container version.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from mlops_gitops import awsdata

_GPU_FAMILIES = ("p", "g")


class ImageError(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@cache
def _data() -> dict:
    return json.loads(
        resources.files("mlops_gitops").joinpath("data/image_uris.json").read_text(encoding="utf-8")
    )


def frameworks() -> list[str]:
    return sorted(_data()["frameworks"])


def versions(framework: str, scope: str = "inference") -> list[str]:
    body = _data()["frameworks"].get(framework, {}).get(scope, {})
    return [*body.get("versions", {}), *body.get("version_aliases", {})]


def _processor(instance_type: str | None, available: list[str]) -> str | None:
    if not available:
        return None
    family = (
        (instance_type or "ml.m5.large").split(".")[1] if instance_type and "." in instance_type else "m5"
    )
    wanted = "gpu" if family.startswith(_GPU_FAMILIES) else "cpu"
    if wanted in available:
        return wanted
    if "inf" in family and "inf" in available:
        return "inf"
    return available[0]


def image_uri(
    framework: str, version: str, region: str, instance_type: str | None = None, scope: str = "inference"
) -> str:
    data = _data()
    if framework not in data["frameworks"]:
        from mlops_gitops.suggest import did_you_mean

        raise ImageError(
            f"{framework!r} is not a SageMaker built-in framework or algorithm this tool knows",
            did_you_mean(framework, frameworks(), f"known: {', '.join(frameworks())}"),
        )
    scopes = data["frameworks"][framework]
    body = scopes.get(scope) or scopes.get("inference") or next(iter(scopes.values()))
    resolved = body["version_aliases"].get(version, version)
    entry = body["versions"].get(resolved)
    if entry is None:
        shown = ", ".join(list(body["versions"])[-8:])
        raise ImageError(
            f"{framework} has no {scope} image version {version!r}", f"use one of the newest: {shown}"
        )
    table = data["registries"][entry["registry"]]
    account = table.get(region)
    if account is None:
        raise ImageError(
            f"{framework} {version} images are not published in {region}",
            "pick another region or framework version",
        )
    processor = _processor(instance_type, entry.get("processors") or body.get("processors") or [])
    py_versions = entry.get("py_versions") or []
    py = py_versions[-1] if py_versions else None
    container = (entry.get("container_version") or {}).get(processor or "", None)
    tag = "-".join(p for p in (entry.get("tag_prefix") or resolved, processor, py, container) if p)
    uri = f"{account}.dkr.ecr.{region}.{dns_suffix(region)}/{entry['repository']}"
    return f"{uri}:{tag}" if tag else uri


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if awsdata.partition_of_region(region) == "aws-cn" else "amazonaws.com"
