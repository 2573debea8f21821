"""A create that failed on a resource an earlier, pruned stack kept (DeletionPolicy: Retain):
which resource it is, and the exact ways out - delete it, or adopt it with an IMPORT change set.
Deploy (ops.deploy) adds this to the failed create's outcome."""

from __future__ import annotations

import json
import re

# Resources the pipeline templates keep when their stack is deleted (DeletionPolicy: Retain) and
# that carry a fixed name, so re-creating the stack collides with them: type -> (the identifier
# property an IMPORT change set names, the AWS CLI command that deletes the resource).
RETAINED_TYPES: dict[str, tuple[str, str]] = {
    "AWS::S3::Bucket": ("BucketName", "aws s3 rb s3://{id} --force  (deletes the bucket's data)"),
    "AWS::ECR::Repository": ("RepositoryName", "aws ecr delete-repository --repository-name {id} --force"),
    "AWS::SageMaker::ModelPackageGroup": (
        "ModelPackageGroupName",
        "aws sagemaker delete-model-package-group --model-package-group-name {id}  (delete its versions first)",
    ),
    "AWS::DynamoDB::Table": ("TableName", "aws dynamodb delete-table --table-name {id}"),
    "AWS::Glue::Database": ("DatabaseName", "aws glue delete-database --name {id}"),
}
_FAILED_RESOURCE = re.compile(
    r"^(?P<logical>[A-Za-z0-9]+) \((?P<type>AWS::[A-Za-z0-9:]+)\): (?P<reason>.*)$", re.S
)
_IDENTIFIER = re.compile(r"identifier '(?P<id>[^']+)'|^(?P<bare>[^\s]+) already exists")


def retained_conflict(reason: str, stack: str) -> str | None:
    """For a create that failed because a resource kept by an earlier (pruned) stack still exists:
    which resource, and the exact ways to resolve it. None for any other failure.

    ``reason`` is CloudFormationGateway.first_failure's "<LogicalId> (<Type>): <reason>"."""
    match = _FAILED_RESOURCE.match(reason or "")
    if not match or "already exist" not in match["reason"].lower():
        return None
    rtype, logical = match["type"], match["logical"]
    found = _IDENTIFIER.search(match["reason"])
    ident = (found["id"] or found["bare"]) if found else "<its name>"
    prop, delete = RETAINED_TYPES.get(rtype, ("<identifier property>", ""))
    to_import = json.dumps(
        [{"ResourceType": rtype, "LogicalResourceId": logical, "ResourceIdentifier": {prop: ident}}],
        separators=(",", ":"),
    )
    steps = [
        f"{rtype} {ident!r} ({logical}) already exists, most likely kept by an earlier {stack} that was pruned",
        "either delete it" + (f": {delete.format(id=ident)}" if delete else " by hand"),
        f"or adopt it: aws cloudformation delete-stack --stack-name {stack} (the rolled-back stack holds "
        f"nothing), then aws cloudformation create-change-set --change-set-type IMPORT --stack-name {stack} "
        f"--change-set-name adopt-{logical} --resources-to-import '{to_import}' --template-body <a template "
        "holding only that resource, with its DeletionPolicy>, execute that change set, and deploy again",
    ]
    return "; ".join(steps)
