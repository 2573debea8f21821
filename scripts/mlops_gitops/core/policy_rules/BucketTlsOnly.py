from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import statements


def _denies_plain_http(statement) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition") or {}
    flag = (condition.get("Bool") or {}).get("aws:SecureTransport")
    return str(flag).lower() == "false"


class BucketTlsOnly(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "S3 buckets refuse plain HTTP"
    description = (
        "Every AWS::S3::Bucket has a bucket policy denying requests whose aws:SecureTransport is false."
    )
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"
    tags = ["mlops-policy", "s3", "tls"]

    def match(self, cfn):
        protected = set()
        for policy in cfn.get_resources(["AWS::S3::BucketPolicy"]).values():
            props = policy.get("Properties") or {}
            bucket = props.get("Bucket")
            if (
                isinstance(bucket, dict)
                and "Ref" in bucket
                and any(_denies_plain_http(s) for _, s in statements(props.get("PolicyDocument")))
            ):
                protected.add(bucket["Ref"])
        matches = []
        for name in cfn.get_resources(["AWS::S3::Bucket"]):
            if name not in protected:
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"bucket {name} has no bucket policy denying aws:SecureTransport false; add an AWS::S3::BucketPolicy with that Deny statement",
                    )
                )
        return matches
