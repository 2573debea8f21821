from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import present

_JOB_DEFINITIONS = [
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
]


class NetworkIsolation(CloudFormationLintRule):
    id = "E9107"
    shortdesc = "SageMaker containers run network-isolated where SageMaker supports it"
    description = "AWS::SageMaker::Model sets EnableNetworkIsolation; monitoring job definitions set NetworkConfig.EnableNetworkIsolation."
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html"
    tags = ["mlops-policy", "sagemaker", "network"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::SageMaker::Model"]).items():
            props = resource.get("Properties") or {}
            value = props.get("EnableNetworkIsolation")
            if not present(props, "EnableNetworkIsolation") or value is False or value == "false":
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"], f"model {name} does not set EnableNetworkIsolation"
                    )
                )
        for name, resource in cfn.get_resources(_JOB_DEFINITIONS).items():
            if not present(resource.get("Properties") or {}, "NetworkConfig", "EnableNetworkIsolation"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name} does not set NetworkConfig.EnableNetworkIsolation",
                    )
                )
        return matches
