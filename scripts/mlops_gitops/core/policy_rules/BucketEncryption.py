from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import present


class BucketEncryption(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "S3 buckets are encrypted"
    description = "Every AWS::S3::Bucket sets BucketEncryption (SSE-KMS or SSE-S3)."
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html"
    tags = ["mlops-policy", "s3", "encryption"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::S3::Bucket"]).items():
            props = resource.get("Properties") or {}
            if not present(props, "BucketEncryption", "ServerSideEncryptionConfiguration"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"bucket {name} has no BucketEncryption; add ServerSideEncryptionConfiguration (aws:kms with the stack's key)",
                    )
                )
        return matches
