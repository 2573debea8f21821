from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import present


class LogRetention(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "Logs are kept for a set time, in log groups the stack owns"
    description = "Every AWS::Logs::LogGroup sets RetentionInDays, and every Lambda function logs to such a group (LoggingConfig.LogGroup)."
    source_url = (
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-and-streams.html"
    )
    tags = ["mlops-policy", "logs"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::Logs::LogGroup"]).items():
            if not present(resource.get("Properties") or {}, "RetentionInDays"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"log group {name} keeps logs forever; set RetentionInDays",
                    )
                )
        for name, resource in cfn.get_resources(["AWS::Lambda::Function"]).items():
            if not present(resource.get("Properties") or {}, "LoggingConfig", "LogGroup"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"function {name} logs to an unmanaged log group; set LoggingConfig.LogGroup to a log group of this stack",
                    )
                )
        return matches
