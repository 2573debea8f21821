"""A stand-in for the git providers' REST APIs (GitHub, GitLab, Bitbucket) on 127.0.0.1: it keeps
comments per pull request and records every request (method, path, headers, JSON body)."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

COMMENTS = re.compile(
    r"^/(?:repos/(?P<gh>[^/]+/[^/]+)/issues/(?P<ghn>\d+)/comments"
    r"|repos/(?P<ghe>[^/]+/[^/]+)/issues/comments/(?P<ghid>\d+)"
    r"|projects/(?P<gl>[^/]+)/merge_requests/(?P<gln>\d+)/notes(?:/(?P<glid>\d+))?"
    r"|repositories/(?P<bb>[^/]+/[^/]+)/pullrequests/(?P<bbn>\d+)/comments(?:/(?P<bbid>\d+))?"
    r"|repos/(?P<ref>[^/]+/[^/]+)/git/refs?(?:/(?P<refname>.+))?"
    r"|repos/(?P<ct>[^/]+/[^/]+)/contents/(?P<path>.+)"
    r"|repos/(?P<pr>[^/]+/[^/]+)/pulls)$"
)


@dataclass
class FakeProvider:
    url: str = ""
    token: str = "s3cr3t-token"
    status: int | None = None  # answer every request with this status, when set
    requests: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "<pr>" -> comments
    next_id: int = 100
    refs: dict[str, str] = field(default_factory=lambda: {"heads/main": "c" * 40})
    files: dict[tuple[str, str], str] = field(default_factory=dict)  # (commit, path) -> text
    pulls: list[dict[str, Any]] = field(default_factory=list)

    def authorized(self, headers: Any) -> bool:
        return (
            headers.get("Authorization") == f"Bearer {self.token}"
            or headers.get("PRIVATE-TOKEN") == self.token
        )


@contextmanager
def fake_provider(**kwargs: Any) -> Iterator[FakeProvider]:
    state = FakeProvider(**kwargs)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self, code: int, data: Any) -> None:
            raw = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path, _, query = self.path.partition("?")
            state.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            if state.status:
                return self._answer(state.status, {"message": "refused"})
            if not state.authorized(self.headers):
                return self._answer(401, {"message": "Bad credentials"})
            m = COMMENTS.match(path)
            if not m:
                return self._answer(404, {"message": "Not Found"})
            g = m.groupdict()
            if g["ref"] is not None:
                return self._refs(g)
            if g["ct"] is not None:
                return self._contents(g, body)
            if g["pr"] is not None:
                pull = {"number": len(state.pulls) + 1, **(body or {})}
                pull["html_url"] = f"https://github.com/{g['pr']}/pull/{pull['number']}"
                state.pulls.append(pull)
                return self._answer(201, pull)
            number = g["ghn"] or g["gln"] or g["bbn"]
            comment_id = g["ghid"] or g["glid"] or g["bbid"]
            if g["ghid"]:
                found = [(n, c) for n, cs in state.comments.items() for c in cs if str(c["id"]) == g["ghid"]]
                number = found[0][0] if found else "?"
            thread = state.comments.setdefault(number, [])
            text_key = "content" if g["bb"] else "body"
            if self.command == "GET" and not comment_id:
                page = int(dict(p.split("=") for p in query.split("&") if "=" in p).get("page", 1))
                items = thread if page == 1 else []
                return self._answer(200, {"values": items} if g["bb"] else items)
            if self.command == "POST":
                state.next_id += 1
                comment = {"id": state.next_id, text_key: body[text_key]}
                thread.append(comment)
                return self._answer(201, comment)
            if self.command in ("PATCH", "PUT") and comment_id:
                for comment in thread:
                    if str(comment["id"]) == comment_id:
                        comment[text_key] = body[text_key]
                        return self._answer(200, comment)
            return self._answer(404, {"message": "Not Found"})

        def _refs(self, g: dict[str, Any]) -> None:
            if self.command == "GET":
                sha = state.refs.get(g["refname"] or "")
                return self._answer(200, {"object": {"sha": sha}}) if sha else self._answer(404, {})
            body = state.requests[-1]["body"]
            ref = body["ref"].removeprefix("refs/")
            if ref in state.refs:
                return self._answer(422, {"message": "Reference already exists"})
            state.refs[ref] = body["sha"]
            return self._answer(201, {"ref": body["ref"]})

        def _contents(self, g: dict[str, Any], body: Any) -> None:
            import base64
            import urllib.parse

            path = urllib.parse.unquote(g["path"])
            query = dict(p.split("=") for p in state.requests[-1]["query"].split("&") if "=" in p)
            if self.command == "GET":
                ref = query.get("ref", "main")
                commit = state.refs.get(f"heads/{ref}", ref)
                if (commit, path) not in state.files:
                    return self._answer(404, {})
                content = base64.b64encode(state.files[(commit, path)].encode()).decode()
                return self._answer(200, {"sha": f"blob-{commit}", "content": content, "encoding": "base64"})
            branch = body["branch"]
            parent = state.refs[f"heads/{branch}"]
            if body.get("sha") != f"blob-{parent}":
                return self._answer(409, {"message": "sha does not match"})
            new = f"{len(state.refs):040d}"
            state.files |= {(new, p): t for (c, p), t in list(state.files.items()) if c == parent}
            state.files[(new, path)] = base64.b64decode(body["content"]).decode()
            state.refs[f"heads/{branch}"] = new
            return self._answer(200, {"commit": {"sha": new, "message": body["message"]}})

        do_GET = do_POST = do_PATCH = do_PUT = _handle

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
