"""Demo data for the local AWS: the Model Registry versions the example configs refer to.

The configs pin model-package versions for staging and prod (deploy refuses versions that are not
Approved) and let dev follow a group's latest approved version. An empty local AWS has no registry,
so `mlopsctl local run --seed-demo` registers, per group, as many versions as the highest one
referenced and approves those referenced plus the newest - what a training pipeline and a reviewer
would have done. Everything it creates is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_gitops import names
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.deploy import PACKAGE_PARAMS
from mlops_gitops.repo import Repo

_VERSION_ARN = names.MODEL_PACKAGE_VERSION_ARN


def registry_needs(repo: Repo, stages: list[str]) -> dict[str, set[int]]:
    """Model package group -> versions the configs pin (0 stands for "the latest approved")."""
    needs: dict[str, set[int]] = {}
    for stage in stages:
        specs, errors, _ = render_stage(repo, stage, "seed")
        if errors:
            continue  # invalid configs are validate's business; the pipeline will say so
        for spec in specs:
            for name in PACKAGE_PARAMS:
                match = _VERSION_ARN.fullmatch(spec.parameters.get(name, ""))
                if match:
                    needs.setdefault(match.group(1), set()).add(int(match.group(2)))
            for how in spec.deferred.values():
                group = how.get("latest_approved_model_package_of")
                if group:
                    needs.setdefault(group, set()).add(0)
    return needs


def seed_registry(
    sagemaker: Any, needs: dict[str, set[int]], account: str, region: str, say: Callable[[str], None]
) -> None:
    for group, versions in sorted(needs.items()):
        wanted = max(versions | {1})
        try:
            sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        except Exception:  # noqa: BLE001 - no such group yet (moto and AWS word it differently)
            sagemaker.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription="seeded by mlopsctl local"
            )
        existing = sagemaker.list_model_packages(ModelPackageGroupName=group, MaxResults=100)[
            "ModelPackageSummaryList"
        ]
        for number in range(len(existing) + 1, wanted + 1):
            sagemaker.create_model_package(
                ModelPackageGroupName=group,
                ModelPackageDescription=f"demo version {number}",
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": f"{account}.dkr.ecr.{region}.amazonaws.com/{group}:{number}",
                            "ModelDataUrl": f"s3://mlops-demo-assets/models/{group}/{number}/model.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )
        approve = {v for v in versions if v} | {wanted}
        for number in sorted(approve):
            arn = f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{number}"
            sagemaker.update_model_package(
                ModelPackageArn=arn,
                ModelApprovalStatus="Approved",
                ApprovalDescription="approved by mlopsctl local --seed-demo",
            )
        say(
            f"seeded model package group {group}: versions 1-{wanted}, approved {', '.join(map(str, sorted(approve)))}"
        )
