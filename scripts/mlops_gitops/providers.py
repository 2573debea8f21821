"""The git providers' REST APIs behind a CodeStar connection (GitHub, GitLab, Bitbucket): the
pull-request check's comment. urllib only; the token goes in a header and never into a message,
an exception or a log line.

GitHub: issue comments (a pull request is an issue)
  https://docs.github.com/en/rest/issues/comments
GitLab: merge request notes
  https://docs.gitlab.com/ee/api/notes.html#merge-requests
Bitbucket Cloud: pull request comments
  https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pullrequests/#api-repositories-workspace-repo-slug-pullrequests-pull-request-id-comments-get
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from mlops_gitops.errors import ExitCode, GitOpsError

API_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com/api/v4",
    "bitbucket": "https://api.bitbucket.org/2.0",
}
NAMES = {"github": "GitHub", "gitlab": "GitLab", "bitbucket": "Bitbucket"}
TIMEOUT = 30  # seconds per request


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="/")


def new_pull_request_url(provider: str, repository: str, branch: str, base: str) -> str:
    """Where a person opens the pull request in the browser after pushing the branch."""
    b, d = urllib.parse.quote(branch, safe=""), urllib.parse.quote(base, safe="")
    if provider == "gitlab":
        return (
            f"https://gitlab.com/{repository}/-/merge_requests/new"
            f"?merge_request[source_branch]={b}&merge_request[target_branch]={d}"
        )
    if provider == "bitbucket":
        return f"https://bitbucket.org/{repository}/pull-requests/new?source={b}&dest={d}"
    return f"https://github.com/{repository}/compare/{urllib.parse.quote(base, safe='/')}...{urllib.parse.quote(branch, safe='/')}?expand=1"


class ProviderError(GitOpsError):
    """The provider refused or could not be reached; the message never holds the token. Exit 3,
    as for AWS: a remote service failed, not the input."""

    exit_code = ExitCode.AWS


@dataclass
class ProviderAPI:
    provider: str  # github, gitlab, bitbucket
    repository: str  # owner/name (GitLab: the project's full path)
    token: str
    base_url: str = ""

    def __post_init__(self) -> None:
        if self.provider not in API_URLS:
            raise ValueError(f"unknown provider {self.provider!r}; one of {', '.join(API_URLS)}")
        self.base_url = (self.base_url or API_URLS[self.provider]).rstrip("/")

    def __repr__(self) -> str:  # the token stays out of tracebacks and logs
        return f"ProviderAPI({self.provider!r}, {self.repository!r}, base_url={self.base_url!r})"

    # --- the pull request's comment
    def upsert_comment(self, number: str, body: str, marker: str) -> str:
        """Edit the newest comment starting with marker, else post one: "updated <id>" or "posted <id>"."""
        ours = [c for c in self._comments(number) if c[1].startswith(marker)]
        if ours:
            comment_id = ours[-1][0]
            self._request(
                "PUT" if self.provider != "github" else "PATCH", self._comment_url(number, comment_id), body
            )
            return f"updated {comment_id}"
        created = self._request("POST", self._comments_url(number), body)
        return f"posted {created.get('id')}"

    # --- promote on GitHub: a branch, one file changed through the contents API, a pull request
    # (https://docs.github.com/en/rest/git/refs, https://docs.github.com/en/rest/repos/contents,
    # https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request); the same calls as
    # aws.codecommit.CodeCommitGateway's, so promote opens either kind the same way.
    pull_request_url: str = ""

    def branch_tip(self, repository: str, branch: str) -> str:
        answer = self._request("GET", f"/repos/{repository}/git/ref/heads/{_quote(branch)}")
        return str(answer["object"]["sha"])

    def file_text(self, repository: str, path: str, commit: str) -> str:
        answer = self._request("GET", f"/repos/{repository}/contents/{_quote(path)}?ref={_quote(commit)}")
        return base64.b64decode(answer["content"]).decode("utf-8")

    def create_branch(self, repository: str, branch: str, commit: str) -> None:
        self._request(
            "POST", f"/repos/{repository}/git/refs", payload={"ref": f"refs/heads/{branch}", "sha": commit}
        )

    def put_file(self, repository: str, branch: str, path: str, text: str, parent: str, message: str) -> str:
        """Commit text as path on branch (the file exists: its blob sha is required); the commit id."""
        here = self._request("GET", f"/repos/{repository}/contents/{_quote(path)}?ref={_quote(branch)}")
        payload = {
            "message": message,
            "content": base64.b64encode(text.encode("utf-8")).decode(),
            "sha": here["sha"],
            "branch": branch,
        }
        answer = self._request("PUT", f"/repos/{repository}/contents/{_quote(path)}", payload=payload)
        return str(answer["commit"]["sha"])

    def create_pull_request(
        self, repository: str, title: str, description: str, branch: str, base: str
    ) -> str:
        payload = {"title": title, "body": description, "head": branch, "base": base}
        answer = self._request("POST", f"/repos/{repository}/pulls", payload=payload)
        self.pull_request_url = str(answer.get("html_url") or "")
        return str(answer["number"])

    def _comments_url(self, number: str) -> str:
        repo = self.repository
        if self.provider == "github":
            return f"/repos/{repo}/issues/{number}/comments"
        if self.provider == "gitlab":
            return f"/projects/{urllib.parse.quote(repo, safe='')}/merge_requests/{number}/notes"
        return f"/repositories/{repo}/pullrequests/{number}/comments"

    def _comment_url(self, number: str, comment_id: Any) -> str:
        if self.provider == "github":
            return f"/repos/{self.repository}/issues/comments/{comment_id}"
        return f"{self._comments_url(number)}/{comment_id}"

    def _comments(self, number: str) -> list[tuple[Any, str]]:
        """(id, text) of the pull request's comments, oldest first (the first pages)."""
        out: list[tuple[Any, str]] = []
        for page in range(1, 11):  # at most 1,000 comments
            if self.provider == "bitbucket":
                answer = self._request("GET", f"{self._comments_url(number)}?pagelen=100&page={page}")
                items = answer.get("values", []) if isinstance(answer, dict) else []
                out += [(c.get("id"), (c.get("content") or {}).get("raw") or "") for c in items]
                if not answer.get("next"):
                    break
                continue
            sort = "&sort=asc&order_by=created_at" if self.provider == "gitlab" else ""
            items = self._request("GET", f"{self._comments_url(number)}?per_page=100&page={page}{sort}")
            items = items if isinstance(items, list) else []
            out += [(c.get("id"), c.get("body") or "") for c in items]
            if len(items) < 100:
                break
        return out

    def _payload(self, body: str) -> dict[str, Any]:
        return {"content": {"raw": body}} if self.provider == "bitbucket" else {"body": body}

    def _request(self, method: str, path: str, body: str | None = None, payload: dict | None = None) -> Any:
        headers = {"Accept": "application/json", "User-Agent": "mlops-gitops"}
        if self.provider == "github":
            headers |= {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self.provider == "gitlab":
            headers["PRIVATE-TOKEN"] = self.token
        else:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None or payload is not None:
            data = json.dumps(payload if payload is not None else self._payload(body or "")).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        where = f"{NAMES[self.provider]} {method} {path.split('?')[0]}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (https API URL)
                text = answer.read().decode() or "null"
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"{where}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ProviderError(f"{where}: {getattr(exc, 'reason', exc)}") from None
        try:
            return json.loads(text)
        except ValueError:
            raise ProviderError(f"{where}: the answer is not JSON") from None
