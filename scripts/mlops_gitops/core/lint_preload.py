"""Imported by the forkserver that `core.lint.lint_jobs` forks its template workers from: it loads
cfn-lint's rules (ours included) into the server's Runner and lints a small template, so that every
worker starts with them loaded instead of paying ~0.4 s of CPU to load them again. Nothing else
imports it (`mlopsctl` itself imports cfn-lint only when it lints)."""

from __future__ import annotations

from mlops_gitops.core.lint import warm_runner

try:
    warm_runner()
except Exception:  # noqa: BLE001 - the server must start anyway: a worker then loads the rules itself
    pass
