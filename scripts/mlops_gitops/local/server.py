"""The local AWS: a moto server process on 127.0.0.1 (real HTTP, as boto3 and the AWS CLI see AWS).

A process rather than a thread, so that `mlopsctl local up` can leave it running for exploration
and `local down` can stop it, and so that its state and logs never mix with the caller's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops.defaults import DEFAULT_ACCOUNT
from mlops_gitops.errors import ExitCode, GitOpsError

DEFAULT_REGION = "us-east-1"


class LocalAwsError(GitOpsError):
    """The local AWS could not be started or reached (exit 3, as an AWS failure)."""

    exit_code = ExitCode.AWS


@dataclass
class LocalAws:
    endpoint: str
    account: str
    region: str
    pid: int | None = None
    _process: subprocess.Popen | None = None

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) pointed at the local AWS and nothing else:
        no profile, no real credentials, no real session."""
        env = dict(os.environ if base is None else base)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
            env.pop(key, None)
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
            # moto answers HTTP 500 for what it does not implement: retrying that only waits.
            AWS_MAX_ATTEMPTS="2",
        )
        return env

    def context(self):
        """An AwsContext on the local AWS: its endpoint, region, keys and few retries."""
        from mlops_gitops.aws.clients import AwsContext

        return AwsContext.from_args(None, None, None, self.environment({}))

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        elif self.pid:
            stop_pid(self.pid)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    port: int | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    timeout: float = 30.0,
) -> LocalAws:
    """Start moto's server on 127.0.0.1 and wait until it answers. ``detach``: in its own session,
    to outlive this command (`local up`)."""
    try:
        import moto.server  # noqa: F401  (moto[server] brings flask; say so if it is missing)
    except ImportError as exc:
        raise LocalAwsError(
            f"the local AWS needs moto[server] ({exc.name} is missing): pip install 'mlops-gitops[dev]' (or make install)"
        ) from exc
    port = port or free_port()
    if not _port_free(port):
        raise LocalAwsError(
            f"port {port} on 127.0.0.1 is in use; pick another with --port, or stop what holds it"
        )
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MOTO_ACCOUNT_ID=account)
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=detach,
        )
    finally:
        if log_file:
            out.close()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file and log_file.exists() else ""
            raise LocalAwsError(
                f"the moto server stopped at once (exit {process.returncode}){': ' + tail if tail else ''}"
            )
        if reachable(endpoint):
            return LocalAws(endpoint, account, region, process.pid, process)
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise LocalAwsError(f"the moto server did not answer on {endpoint} within {timeout:.0f} s")
        time.sleep(0.05)  # polling a starting process, not timing anything


def reachable(endpoint: str) -> bool:
    """Whether a moto server answers at ``endpoint``. It reads moto's configuration route, which
    answers whatever the server holds: /moto-api/data.json, read before, answers HTTP 500 once a
    Lambda function exists (moto asks docker for it), and a live local AWS was then taken for dead."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=2) as response:
            body = json.loads(response.read(65_536) or b"null")
            return 200 <= response.status < 300 and isinstance(body, dict)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Terminate a detached server; True when it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # our own child (same process group run): reap it
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended just now
    return True


def is_moto_server(pid: int) -> bool:
    """Whether ``pid`` is a moto server process (a pid in a state file may be reused after a reboot)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"moto.server" in cmdline


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
