"""The local AWS process: started on 127.0.0.1, reachable, pointed at by the environment it hands
out (and nothing else), stopped for good; a taken port is a clear error, not a hang."""

from __future__ import annotations

import os
import socket

import pytest

from mlops_gitops.local import server


def test_a_local_aws_starts_answers_and_stops(tmp_path) -> None:
    local = server.start(log_file=tmp_path / "moto.log")
    try:
        assert local.endpoint.startswith("http://127.0.0.1:")
        assert server.reachable(local.endpoint)
        env = local.environment({"AWS_PROFILE": "prod-admin", "AWS_SESSION_TOKEN": "real", "HOME": "/h"})
        assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env, "never the real account"
        assert env["AWS_ENDPOINT_URL"] == local.endpoint and env["HOME"] == "/h"
        assert env["AWS_MAX_ATTEMPTS"] == "2"
    finally:
        local.stop()
    assert not server.reachable(local.endpoint)
    with pytest.raises(ProcessLookupError):
        os.kill(local.pid, 0)


def test_a_local_aws_with_lambda_functions_is_still_found(tmp_path) -> None:
    """moto's /moto-api/data.json answers HTTP 500 once a Lambda function exists (it asks docker),
    which made `local run` and the push hook start a second, empty local AWS (issue 16)."""
    import io
    import urllib.error
    import urllib.request
    import zipfile

    import boto3

    local = server.start(log_file=tmp_path / "moto.log")
    try:
        env = local.environment({})
        keys = {k.lower(): env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        iam = boto3.client("iam", endpoint_url=local.endpoint, region_name=local.region, **keys)
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("index.py", "def handler(event, context):\n    return 1\n")
        boto3.client("lambda", endpoint_url=local.endpoint, region_name=local.region, **keys).create_function(
            FunctionName="fn",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )
        with pytest.raises(urllib.error.HTTPError):  # what the old liveness check read
            urllib.request.urlopen(f"{local.endpoint}/moto-api/data.json", timeout=10).close()
        assert server.reachable(local.endpoint)
    finally:
        local.stop()


def test_something_else_on_the_port_is_not_taken_for_a_local_aws() -> None:
    import http.server
    import threading

    class NotMoto(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>a web server</html>")

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), NotMoto)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        assert not server.reachable(f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_port_in_use_is_refused_with_what_to_do() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            server.LocalAwsError, match=rf"port {port} on 127.0.0.1 is in use; pick another with --port"
        ):
            server.start(port=port)


def test_local_run_on_a_taken_port_exits_3_with_the_reason(tmp_repo) -> None:
    from tests.conftest import run_cli

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--repo-root", str(tmp_repo.root), "local", "run", "--port", str(port))
    assert result.code == 3
    assert f"mlopsctl: port {port} on 127.0.0.1 is in use" in result.err
    assert "Traceback" not in result.err


def test_local_down_never_signals_a_process_that_only_reuses_a_stale_pid(tmp_repo) -> None:
    import json
    import subprocess

    from tests.conftest import run_cli

    bystander = subprocess.Popen(["sleep", "60"])
    try:
        state = tmp_repo.root / ".mlops-local" / "server.json"
        state.parent.mkdir()
        state.write_text(
            json.dumps(
                {"endpoint": "http://127.0.0.1:9", "pid": bystander.pid, "account": "1", "region": "r"}
            )
        )
        result = run_cli("--repo-root", str(tmp_repo.root), "local", "down")
        assert result.code == 0
        assert bystander.poll() is None, "the unrelated process still runs"
        assert not state.exists(), "the stale state is cleared"
    finally:
        bystander.kill()
        bystander.wait()
