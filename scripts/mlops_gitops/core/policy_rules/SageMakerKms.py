from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import present

_JOB_DEFINITIONS = [
    "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::ModelQualityJobDefinition",
    "AWS::SageMaker::ModelBiasJobDefinition",
    "AWS::SageMaker::ModelExplainabilityJobDefinition",
]


class SageMakerKms(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "SageMaker volumes and captured data take the pipeline's KMS key"
    description = (
        "EndpointConfig sets KmsKeyId (and DataCaptureConfig.KmsKeyId when capturing, "
        "AsyncInferenceConfig.OutputConfig.KmsKeyId when asynchronous); monitoring job "
        "definitions set ClusterConfig.VolumeKmsKeyId. A conditional value (Fn::If with AWS::NoValue for "
        "'no key configured') counts: the template must wire the key through."
    )
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/encryption-at-rest.html"
    tags = ["mlops-policy", "sagemaker", "kms"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::SageMaker::EndpointConfig"]).items():
            props = resource.get("Properties") or {}
            if not present(props, "KmsKeyId"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"], f"{name} sets no KmsKeyId for its instance volumes"
                    )
                )
            if present(props, "DataCaptureConfig") and not present(props, "DataCaptureConfig", "KmsKeyId"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "DataCaptureConfig"],
                        f"{name} captures data without DataCaptureConfig.KmsKeyId",
                    )
                )
            # asynchronous results land in S3 too:
            # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AsyncInferenceOutputConfig.html
            if present(props, "AsyncInferenceConfig") and not present(
                props, "AsyncInferenceConfig", "OutputConfig", "KmsKeyId"
            ):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "AsyncInferenceConfig"],
                        f"{name} writes asynchronous results without AsyncInferenceConfig.OutputConfig.KmsKeyId",
                    )
                )
        for name, resource in cfn.get_resources(_JOB_DEFINITIONS).items():
            props = resource.get("Properties") or {}
            if not present(props, "JobResources", "ClusterConfig", "VolumeKmsKeyId"):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "JobResources"],
                        f"{name} sets no ClusterConfig.VolumeKmsKeyId",
                    )
                )
        return matches
