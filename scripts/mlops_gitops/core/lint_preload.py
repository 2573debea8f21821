"""Imported by the forkserver that `core.lint.lint_jobs` forks its template workers from: it loads
cfn-lint's rules (ours included) into the server's Runner and lints a small template, so that every
worker starts with them loaded instead of paying ~0.4 s of CPU to load them again. Nothing else
imports it (`mlopsctl` itself imports cfn-lint only when it lints)."""

from __future__ import annotations

import signal

# Ctrl-C is the caller's: mlopsctl gives the lint up (PendingLint.abandon stops the workers), so the
# server and the workers it forks (which keep the handlers the server had when it finished importing
# this) ignore SIGINT instead of each printing a KeyboardInterrupt traceback. Set first, before
# cfn-lint's import, which is the server's longest step.
signal.signal(signal.SIGINT, signal.SIG_IGN)

from mlops_gitops.core.lint import warm_runner  # noqa: E402 - after the signal disposition

try:
    warm_runner()
except Exception:  # noqa: BLE001 - the server must start anyway: a worker then loads the rules itself
    pass
