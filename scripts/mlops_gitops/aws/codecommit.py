"""CodeCommit gateway: the pull-request calls pr-check and promote make, returning plain records.

Idempotency tokens (clientRequestToken of create_pull_request and post_comment_for_pull_request)
are left to botocore, which fills them in; a rerun finds the existing comment instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


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


@dataclass(frozen=True)
class Comment:
    comment_id: str
    content: str
    author_arn: str
    created: str  # ISO timestamp, for "the newest one"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass
class CodeCommitGateway:
    client: Any

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
        )

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


def not_implemented(exc: BaseException) -> bool:
    """Whether an endpoint that stands in for AWS (moto) lacks the operation: it answers HTTP 500
    with an HTML page (no AWS error code) or a NotImplemented code. AWS's own 500s carry a code."""
    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if code in ("NotImplemented", "NotImplementedException"):
        return True
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 500 and (
        code == "500"
        or "not been implemented" in message
        or message.lstrip().lower().startswith("<!doctype html")
    )
