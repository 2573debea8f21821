"""CodeCommit gateway: the pull-request calls pr-check and promote make, returning plain records.

Idempotency tokens (clientRequestToken of create_pull_request and post_comment_for_pull_request)
are left to botocore, which fills them in; a rerun finds the existing comment instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mlops_gitops.aws.errors import error_code, not_implemented  # noqa: F401  (callers' names)


@dataclass(frozen=True)
class PullRequest:
    pull_request_id: str
    title: str
    status: str  # OPEN | CLOSED
    revision_id: str
    repository: str
    source_reference: str
    destination_reference: str
    source_commit: str
    destination_commit: str
    merged: bool = False
    merge_base: str = ""
    merge_commit: str = ""  # mergeMetadata.mergeCommitId: the destination's commit after the merge
    merged_by: str = ""  # mergeMetadata.mergedBy: an ARN
    author_arn: str = ""


@dataclass(frozen=True)
class Comment:
    comment_id: str
    content: str
    author_arn: str
    created: str  # ISO timestamp, for "the newest one"


@dataclass
class CodeCommitGateway:
    client: Any

    @classmethod
    def from_context(cls, aws: Any, region: str | None = None) -> CodeCommitGateway:
        return cls(aws.client("codecommit", region))

    # ------------------------------------------------------------ pull requests (pr-check)

    def pull_request(self, pull_request_id: str) -> PullRequest:
        raw = self.client.get_pull_request(pullRequestId=pull_request_id)["pullRequest"]
        target = (raw.get("pullRequestTargets") or [{}])[0]
        return PullRequest(
            pull_request_id=raw["pullRequestId"],
            title=raw.get("title", ""),
            status=raw.get("pullRequestStatus", ""),
            revision_id=raw.get("revisionId", ""),
            repository=target.get("repositoryName", ""),
            source_reference=target.get("sourceReference", ""),
            destination_reference=target.get("destinationReference", ""),
            source_commit=target.get("sourceCommit", ""),
            destination_commit=target.get("destinationCommit", ""),
            merged=bool((target.get("mergeMetadata") or {}).get("isMerged")),
            merge_base=target.get("mergeBase", ""),
            merge_commit=(target.get("mergeMetadata") or {}).get("mergeCommitId", ""),
            merged_by=(target.get("mergeMetadata") or {}).get("mergedBy", ""),
            author_arn=raw.get("authorArn", ""),
        )

    def closed_pull_request_ids(self, repository: str, limit: int = 100) -> list[str]:
        """The newest ``limit`` closed (merged or abandoned) pull requests' ids; ListPullRequests
        lists ids only, so each one's targets cost a GetPullRequest:
        https://docs.aws.amazon.com/codecommit/latest/APIReference/API_ListPullRequests.html"""
        ids: list[str] = []
        kwargs: dict[str, Any] = {"repositoryName": repository, "pullRequestStatus": "CLOSED"}
        while len(ids) < limit:
            page = self.client.list_pull_requests(**kwargs)
            ids += page.get("pullRequestIds", [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return ids[:limit]

    def approvals(self, pull_request_id: str, revision_id: str) -> list[str]:
        """The ARNs that approved this revision of the pull request:
        https://docs.aws.amazon.com/codecommit/latest/APIReference/API_GetPullRequestApprovalStates.html"""
        raw = self.client.get_pull_request_approval_states(
            pullRequestId=pull_request_id, revisionId=revision_id
        )
        return [a["userArn"] for a in raw.get("approvals", []) if a.get("approvalState") == "APPROVE"]

    def comments(self, pull_request_id: str) -> list[Comment]:
        """Every live comment on the pull request, over all its revisions, oldest first."""
        found: list[Comment] = []
        kwargs: dict[str, Any] = {"pullRequestId": pull_request_id}
        while True:
            page = self.client.get_comments_for_pull_request(**kwargs)
            for data in page.get("commentsForPullRequestData", []):
                for c in data.get("comments", []):
                    if c.get("deleted"):
                        continue
                    created = c.get("creationDate")
                    found.append(
                        Comment(
                            c["commentId"],
                            c.get("content", ""),
                            c.get("authorArn", ""),
                            created.isoformat() if hasattr(created, "isoformat") else str(created or ""),
                        )
                    )
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return sorted(found, key=lambda c: c.created)

    def post_comment(
        self, pull_request_id: str, repository: str, before_commit: str, after_commit: str, content: str
    ) -> str:
        done = self.client.post_comment_for_pull_request(
            pullRequestId=pull_request_id,
            repositoryName=repository,
            beforeCommitId=before_commit,
            afterCommitId=after_commit,
            content=content,
        )
        return done["comment"]["commentId"]

    def update_comment(self, comment_id: str, content: str) -> None:
        self.client.update_comment(commentId=comment_id, content=content)

    def set_approval(self, pull_request_id: str, revision_id: str, approve: bool) -> None:
        self.client.update_pull_request_approval_state(
            pullRequestId=pull_request_id,
            revisionId=revision_id,
            approvalState="APPROVE" if approve else "REVOKE",
        )

    # ------------------------------------------------------------ branches and files (promote)

    def branch_tip(self, repository: str, branch: str) -> str:
        return self.client.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"]

    def file_text(self, repository: str, path: str, commit: str) -> str:
        raw = self.client.get_file(repositoryName=repository, filePath=path, commitSpecifier=commit)
        return raw["fileContent"].decode("utf-8")

    def create_branch(self, repository: str, branch: str, commit: str) -> None:
        self.client.create_branch(repositoryName=repository, branchName=branch, commitId=commit)

    def put_file(
        self, repository: str, branch: str, path: str, text: str, parent_commit: str, message: str
    ) -> str:
        done = self.client.put_file(
            repositoryName=repository,
            branchName=branch,
            filePath=path,
            fileContent=text.encode("utf-8"),
            parentCommitId=parent_commit,
            commitMessage=message,
        )
        return done["commitId"]

    def create_pull_request(
        self, repository: str, title: str, description: str, source_branch: str, destination_branch: str
    ) -> str:
        done = self.client.create_pull_request(
            title=title,
            description=description,
            targets=[
                {
                    "repositoryName": repository,
                    "sourceReference": source_branch,
                    "destinationReference": destination_branch,
                }
            ],
        )
        return done["pullRequest"]["pullRequestId"]

    # ------------------------------------------------------------ approval rule templates (bootstrap)

    def approval_rule_template(self, name: str) -> dict[str, Any] | None:
        """The template (content and its SHA-256), or None when there is none by that name."""
        try:
            return self.client.get_approval_rule_template(approvalRuleTemplateName=name)[
                "approvalRuleTemplate"
            ]
        except ClientError as exc:
            if error_code(exc) == "ApprovalRuleTemplateDoesNotExistException":
                return None
            raise

    def create_approval_rule_template(self, name: str, content: str, description: str) -> None:
        self.client.create_approval_rule_template(
            approvalRuleTemplateName=name,
            approvalRuleTemplateContent=content,
            approvalRuleTemplateDescription=description,
        )

    def update_approval_rule_template(self, name: str, content: str, existing_sha256: str) -> None:
        self.client.update_approval_rule_template_content(
            approvalRuleTemplateName=name, newRuleContent=content, existingRuleContentSha256=existing_sha256
        )

    def associated_templates(self, repository: str) -> set[str]:
        names: set[str] = set()
        kwargs: dict[str, Any] = {"repositoryName": repository}
        while True:
            page = self.client.list_associated_approval_rule_templates_for_repository(**kwargs)
            names.update(page.get("approvalRuleTemplateNames", []))
            if not page.get("nextToken"):
                return names
            kwargs["nextToken"] = page["nextToken"]

    def associate_template(self, name: str, repository: str) -> None:
        self.client.associate_approval_rule_template_with_repository(
            approvalRuleTemplateName=name, repositoryName=repository
        )

    # ------------------------------------------------------------ commits (the provisioning API)

    def tip_or_none(self, repository: str, branch: str) -> str | None:
        """The branch's head commit, or None when there is no such branch (GetBranch:
        https://docs.aws.amazon.com/codecommit/latest/APIReference/API_GetBranch.html)."""
        try:
            return self.branch_tip(repository, branch)
        except ClientError as exc:
            if error_code(exc) == "BranchDoesNotExistException":
                return None
            raise

    def file_or_none(self, repository: str, path: str, commit: str) -> bytes | None:
        """The file's bytes at ``commit``, or None when it does not exist there (GetFile)."""
        try:
            raw = self.client.get_file(repositoryName=repository, filePath=path, commitSpecifier=commit)
        except ClientError as exc:
            if error_code(exc) in ("FileDoesNotExistException", "FolderDoesNotExistException"):
                return None
            raise
        return raw["fileContent"]

    def files_under(self, repository: str, folder: str, commit: str) -> list[str]:
        """Every regular file's path under ``folder`` at ``commit``, recursively (GetFolder:
        https://docs.aws.amazon.com/codecommit/latest/APIReference/API_GetFolder.html). Symbolic
        links and submodules are not files and are left out (the repository is a boundary)."""
        out: list[str] = []
        pending = [folder]
        while pending:
            here = pending.pop()
            try:
                raw = self.client.get_folder(
                    repositoryName=repository, commitSpecifier=commit, folderPath=here
                )
            except ClientError as exc:
                if error_code(exc) == "FolderDoesNotExistException":
                    continue
                raise
            out += [f["absolutePath"] for f in raw.get("files", [])]
            pending += [d["absolutePath"] for d in raw.get("subFolders", [])]
        return sorted(p.lstrip("/") for p in out)

    def create_commit(
        self,
        repository: str,
        branch: str,
        parent: str,
        files: dict[str, bytes],
        message: str,
        author: str,
    ) -> str | None:
        """One commit putting ``files`` on ``branch`` after ``parent``; None when it would change
        nothing (CreateCommit answers NoChangeException rather than make an empty commit:
        https://docs.aws.amazon.com/codecommit/latest/APIReference/API_CreateCommit.html)."""
        try:
            done = self.client.create_commit(
                repositoryName=repository,
                branchName=branch,
                parentCommitId=parent,
                authorName=author,
                commitMessage=message,
                putFiles=[{"filePath": path, "fileContent": data} for path, data in sorted(files.items())],
            )
        except ClientError as exc:
            if error_code(exc) == "NoChangeException":
                return None
            raise
        return done["commitId"]
