"""A CodeCommit client over a bare git repository (tests only).

moto (5.2) implements only CreateRepository, GetRepository and DeleteRepository of CodeCommit, so
the provisioning API's reads and commits (GetBranch, GetFile, GetFolder, CreateCommit, CreateBranch,
CreatePullRequest, ListAssociatedApprovalRuleTemplatesForRepository) run against this stand-in. It
keeps the API's shape where it counts:
- every call's parameters are checked against botocore's CodeCommit service model (what boto3
  would refuse, this refuses);
- answers and error codes are those of the API reference
  (https://docs.aws.amazon.com/codecommit/latest/APIReference/API_CreateCommit.html: a commit that
  changes nothing is NoChangeException, a stale parent ParentCommitIdOutdatedException);
- ``authorize`` (optional) is asked (action, repository, context) before each call, so a test can
  hold the calls to a role's policy, with codecommit:References set for branch writes
  (https://docs.aws.amazon.com/codecommit/latest/userguide/how-to-conditional-branch.html).
The commits are real git commits, so the local pipeline can run them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

_MODEL = botocore.session.get_session().get_service_model("codecommit")
_OPERATIONS = {
    "get_branch": "GetBranch",
    "get_file": "GetFile",
    "get_folder": "GetFolder",
    "create_commit": "CreateCommit",
    "create_branch": "CreateBranch",
    "create_pull_request": "CreatePullRequest",
    "list_associated_approval_rule_templates_for_repository": "ListAssociatedApprovalRuleTemplatesForRepository",
}


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )


class GitCodeCommit:
    def __init__(
        self,
        git_dir: Path,
        repository: str,
        authorize: Callable[[str, str, dict[str, str]], bool] | None = None,
        approval_templates: tuple[str, ...] = (),
    ) -> None:
        self.git_dir, self.repository = git_dir, repository
        self.authorize = authorize
        self.approval_templates = list(approval_templates)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.pull_requests: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ plumbing

    def _git(self, *argv: str, input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *argv],
            input=input,
            capture_output=True,
            env={**os.environ, **(env or {})},
        )
        if done.returncode:
            raise subprocess.CalledProcessError(done.returncode, argv, done.stdout, done.stderr)
        return done.stdout

    def _call(self, method: str, params: dict[str, Any], references: str | None = None) -> None:
        operation = _OPERATIONS[method]
        report = ParamValidator().validate(params, _MODEL.operation_model(operation).input_shape)
        if report.has_errors():
            raise AssertionError(f"{operation}: {report.generate_report()}")
        self.calls.append((operation, params))
        repository = params.get("repositoryName") or params.get("targets", [{}])[0].get("repositoryName")
        if repository != self.repository:
            raise _error("RepositoryDoesNotExistException", f"{repository} does not exist", operation)
        context = {"codecommit:References": references} if references else {}
        if self.authorize is not None and not self.authorize(f"codecommit:{operation}", repository, context):
            raise _error(
                "AccessDeniedException", f"not authorized to perform codecommit:{operation}", operation
            )

    def _tip(self, branch: str, operation: str) -> str:
        try:
            return self._git("rev-parse", "--verify", f"refs/heads/{branch}").decode().strip()
        except subprocess.CalledProcessError:
            raise _error("BranchDoesNotExistException", f"{branch} does not exist", operation) from None

    def _commit_of(self, specifier: str) -> str:
        for ref in (f"refs/heads/{specifier}", specifier):
            try:
                return self._git("rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
            except subprocess.CalledProcessError:
                continue
        raise _error("CommitDoesNotExistException", f"{specifier} does not exist", "GetFile")

    # ------------------------------------------------------------------ the API

    def get_branch(self, **params: Any) -> dict[str, Any]:
        self._call("get_branch", params)
        tip = self._tip(params["branchName"], "GetBranch")
        return {"branch": {"branchName": params["branchName"], "commitId": tip}}

    def get_file(self, **params: Any) -> dict[str, Any]:
        self._call("get_file", params)
        commit = self._commit_of(params["commitSpecifier"])
        path = params["filePath"].lstrip("/")
        try:
            data = self._git("cat-file", "blob", f"{commit}:{path}")
        except subprocess.CalledProcessError:
            raise _error("FileDoesNotExistException", f"{path} does not exist", "GetFile") from None
        return {"commitId": commit, "filePath": path, "fileContent": data, "fileSize": len(data)}

    def get_folder(self, **params: Any) -> dict[str, Any]:
        self._call("get_folder", params)
        commit = self._commit_of(params["commitSpecifier"])
        folder = params["folderPath"].strip("/")
        try:
            listing = self._git("ls-tree", "-z", f"{commit}:{folder}" if folder else commit).decode()
        except subprocess.CalledProcessError:
            raise _error("FolderDoesNotExistException", f"{folder} does not exist", "GetFolder") from None
        out: dict[str, Any] = {
            "commitId": commit,
            "folderPath": folder,
            "subFolders": [],
            "files": [],
            "symbolicLinks": [],
        }
        for entry in filter(None, listing.split("\0")):
            meta, name = entry.split("\t", 1)
            mode, kind, sha = meta.split()
            item = {"absolutePath": f"{folder}/{name}" if folder else name, "relativePath": name}
            if kind == "tree":
                out["subFolders"].append({**item, "treeId": sha})
            elif mode == "120000":
                out["symbolicLinks"].append({**item, "blobId": sha})
            elif kind == "blob":
                out["files"].append({**item, "blobId": sha, "fileMode": "NORMAL"})
        return out

    def create_branch(self, **params: Any) -> dict[str, Any]:
        self._call("create_branch", params, references=f"refs/heads/{params['branchName']}")
        try:
            self._tip(params["branchName"], "CreateBranch")
        except ClientError:
            self._git("update-ref", f"refs/heads/{params['branchName']}", params["commitId"])
            return {}
        raise _error("BranchNameExistsException", f"{params['branchName']} exists", "CreateBranch")

    def create_commit(self, **params: Any) -> dict[str, Any]:
        branch = params["branchName"]
        self._call("create_commit", params, references=f"refs/heads/{branch}")
        tip = self._tip(branch, "CreateCommit")
        if params.get("parentCommitId") != tip:
            raise _error(
                "ParentCommitIdOutdatedException", "the parent is not the branch's tip", "CreateCommit"
            )
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._git("read-tree", tip, env=env)
            for item in params.get("putFiles", []):
                sha = self._git("hash-object", "-w", "--stdin", input=item["fileContent"]).decode().strip()
                self._git("update-index", "--add", "--cacheinfo", f"100644,{sha},{item['filePath']}", env=env)
            tree = self._git("write-tree", env=env).decode().strip()
        if tree == self._git("rev-parse", f"{tip}^{{tree}}").decode().strip():
            raise _error("NoChangeException", "the commit contains no changes", "CreateCommit")
        author = params.get("authorName", "unknown")
        who = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "api@example.com"}
        who |= {"GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "api@example.com"}
        commit = (
            self._git("commit-tree", tree, "-p", tip, input=params.get("commitMessage", "").encode(), env=who)
            .decode()
            .strip()
        )
        self._git("update-ref", f"refs/heads/{branch}", commit, tip)
        return {"commitId": commit, "treeId": tree, "filesAdded": [], "filesUpdated": [], "filesDeleted": []}

    def create_pull_request(self, **params: Any) -> dict[str, Any]:
        self._call("create_pull_request", params)
        target = params["targets"][0]
        pr = {
            "pullRequestId": str(len(self.pull_requests) + 1),
            "title": params["title"],
            "description": params.get("description", ""),
            "pullRequestStatus": "OPEN",
            "pullRequestTargets": [
                {
                    **target,
                    "sourceCommit": self._tip(target["sourceReference"], "CreatePullRequest"),
                    "destinationCommit": self._tip(target["destinationReference"], "CreatePullRequest"),
                }
            ],
        }
        self.pull_requests.append(pr)
        return {"pullRequest": pr}

    def list_associated_approval_rule_templates_for_repository(self, **params: Any) -> dict[str, Any]:
        self._call("list_associated_approval_rule_templates_for_repository", params)
        return {"approvalRuleTemplateNames": list(self.approval_templates)}
