from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import _unwrap_if

_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


class BucketPublicAccess(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "S3 buckets block public access"
    description = "Every AWS::S3::Bucket sets all four PublicAccessBlockConfiguration flags to true."
    source_url = (
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
    )
    tags = ["mlops-policy", "s3", "public-access"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::S3::Bucket"]).items():
            block = _unwrap_if((resource.get("Properties") or {}).get("PublicAccessBlockConfiguration"))
            missing = [f for f in _FLAGS if not (isinstance(block, dict) and block.get(f) in (True, "true"))]
            if missing:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"bucket {name} does not block public access ({', '.join(missing)} not true)",
                    )
                )
        return matches
