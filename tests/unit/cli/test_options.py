"""The retry budget of the command line (issue 16): reads a person waits for give up after a few
attempts (status against the local AWS took a minute, retrying moto's 500s ten times a call),
deploy keeps its ten, and AWS_MAX_ATTEMPTS wins over both."""

from __future__ import annotations

import argparse

from mlops_gitops.cli.options import INTERACTIVE_ATTEMPTS, aws_context
from mlops_gitops.cli.status import run_status  # noqa: F401  (the verbs below pass interactive=True)


def test_interactive_reads_retry_a_few_times_deploy_ten_and_the_environment_wins() -> None:
    args = argparse.Namespace()
    assert aws_context(args, {}, interactive=True).max_attempts == INTERACTIVE_ATTEMPTS
    assert aws_context(args, {}).max_attempts == 10
    assert aws_context(args, {"AWS_MAX_ATTEMPTS": "7"}, interactive=True).max_attempts == 7


def test_every_read_only_verb_asks_for_the_interactive_budget() -> None:
    from pathlib import Path

    import mlops_gitops.cli as cli

    folder = Path(cli.__file__).parent
    for verb in ("plan", "status", "drift", "review", "history"):
        assert "aws_context(args, environ, interactive=True)" in (folder / f"{verb}.py").read_text(), verb
    assert "interactive=True" not in (folder / "deploy.py").read_text()
