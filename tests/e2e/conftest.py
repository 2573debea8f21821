"""The local AWS the end-to-end tests deploy into: started for a test's `repo` fixture (each module
defines its own repository) and stopped by the same test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.test_local_run import mlopsctl


@pytest.fixture
def local_aws(repo: Path):
    code, out, err = mlopsctl(repo, "local", "up")
    assert code == 0, out + err
    state = json.loads((repo / ".mlops-local" / "server.json").read_text())
    try:
        yield state
    finally:
        assert mlopsctl(repo, "local", "down")[0] == 0
        with pytest.raises(ProcessLookupError):  # the server process is gone
            os.kill(state["pid"], 0)
