from cfnlint.rules import CloudFormationLintRule, RuleMatch

from mlops_gitops.core.policy_rules._walk import as_list, policy_documents, statements


def _wild_action(action) -> bool:
    return action == "*" or (isinstance(action, str) and action.endswith(":*"))


class IamNoWildcard(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "No IAM statement allows every action on every resource"
    description = "An Allow statement may not pair a wildcard action ('*' or 'service:*') with Resource '*'."
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
    tags = ["mlops-policy", "iam", "least-privilege"]

    def match(self, cfn):
        matches = []
        types = ["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]
        for name, resource in cfn.get_resources(types).items():
            props = resource.get("Properties") or {}
            for path, document in policy_documents(resource["Type"], props):
                for index, statement in statements(document):
                    if statement.get("Effect") != "Allow":
                        continue
                    actions = [a for a in as_list(statement.get("Action")) if _wild_action(a)]
                    if actions and "*" in as_list(statement.get("Resource")):
                        where = ["Resources", name, "Properties", *path, "Statement", index]
                        matches.append(
                            RuleMatch(
                                where,
                                f"{name} allows {actions[0]!r} on every resource ('*'); name the actions and scope the resources",
                            )
                        )
        return matches
