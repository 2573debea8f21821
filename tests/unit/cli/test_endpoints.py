"""An endpoint that is not AWS, or that never answers, ends a verb in exit 3 with one line naming
the endpoint and the operation: never an internal error, never a hang. Each test runs its own
server on 127.0.0.1 and stops it."""

from __future__ import annotations

import http.server
import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlops_gitops.aws.clients import AwsContext
from mlops_gitops.cli import main
from tests.conftest import Result, repo_copy

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@contextmanager
def answering(body: bytes, content_type: str = "application/x-amz-json-1.1") -> Iterator[str]:
    """A server that answers every request HTTP 200 with ``body``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def never_answering() -> Iterator[str]:
    """A socket that accepts connections (the kernel completes them) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def run(repo: Path, url: str, *argv: str, **env: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--repo-root", str(repo), "--endpoint-url", url, *argv],
        environ={**ENV, **env},
        stdout=out,
        stderr=err,
    )
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with one real-time pipeline and the templates (read, never written)."""
    return repo_copy(tmp_path_factory.mktemp("endpoints") / "repo", ["churn-realtime"])


VERBS = [
    ["status", "--stage", "dev"],
    ["plan", "--stage", "dev"],
    ["deploy", "--stage", "dev"],
    ["drift", "--stage", "dev"],
]


def assert_one_line_aws_failure(result: Result, url: str, says: str) -> None:
    assert result.code == 3, result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.startswith("mlopsctl:")]
    assert len(lines) == 1, result.err
    assert f"the endpoint {url} " in lines[0] and says in lines[0], lines[0]


@pytest.mark.parametrize("argv", VERBS, ids=lambda a: a[0])
@pytest.mark.parametrize(
    "body", [b"\xff\xfe garbage", b"<html>a proxy's login page</html>"], ids=["bytes", "html"]
)
def test_an_endpoint_answering_200_with_garbage_is_an_aws_failure_naming_endpoint_and_operation(
    repo: Path, argv: list[str], body: bytes
) -> None:
    with answering(body) as url:
        result = run(repo, url, *argv)
    assert_one_line_aws_failure(result, url, "with something that is not an AWS response")
    assert "answered " in result.err and result.err.split("answered ")[1].split(" ")[0].isalpha()


@pytest.mark.parametrize("argv", VERBS[:3], ids=lambda a: a[0])
def test_an_endpoint_that_never_answers_ends_in_exit_3_after_bounded_attempts(
    repo: Path, argv: list[str]
) -> None:
    with never_answering() as url:
        result = run(repo, url, *argv, MLOPS_AWS_CONNECT_TIMEOUT="0.5", MLOPS_AWS_READ_TIMEOUT="0.1")
    assert_one_line_aws_failure(result, url, "no response within 0.1 s (3 attempts")
    assert "MLOPS_AWS_READ_TIMEOUT" in result.err


def test_timeouts_come_from_the_environment_and_reach_the_clients() -> None:
    context = AwsContext.from_args(
        "us-east-1", None, None, {"MLOPS_AWS_CONNECT_TIMEOUT": "2.5", "MLOPS_AWS_READ_TIMEOUT": "30"}
    )
    assert (context.connect_timeout, context.read_timeout) == (2.5, 30.0)
    config = context.client("s3").meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.5, 30.0)
    default = AwsContext.from_args("us-east-1", None, None, {}).client("s3").meta.config
    assert (default.connect_timeout, default.read_timeout) == (10.0, 60.0)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "99999"])
def test_a_bad_timeout_is_a_usage_error(repo: Path, value: str) -> None:
    result = run(repo, "http://127.0.0.1:9", "status", "--stage", "dev", MLOPS_AWS_READ_TIMEOUT=value)
    assert result.code == 2, result.err
    assert "MLOPS_AWS_READ_TIMEOUT must be a number of seconds" in result.err
