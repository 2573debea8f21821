"""Imported by the forkserver that `core.lint.lint_jobs` forks its template workers from: it loads
cfn-lint's rules (ours included) into the server's Runner and lints a small template, so that every
worker starts with them loaded instead of paying ~0.4 s of CPU to load them again. Nothing else
imports it (`mlopsctl` itself imports cfn-lint only when it lints)."""

from __future__ import annotations

import gc
import signal

# Ctrl-C is the caller's: mlopsctl gives the lint up (PendingLint.abandon stops the workers), so the
# server and the workers it forks (which keep the handlers the server had when it finished importing
# this) ignore SIGINT instead of each printing a KeyboardInterrupt traceback. Set first, before
# cfn-lint's import, which is the server's longest step.
signal.signal(signal.SIGINT, signal.SIG_IGN)

# No garbage collection while the server loads: cfn-lint's import and rules create a few hundred
# thousand objects that all live on, and collecting among them cost ~0.15 s of the server's start,
# which a cold `validate --templates` waits for. (The pattern gc.freeze's documentation gives for a
# process that forks: disable early, freeze right before forking, enable in the children. This
# server enables it again once it has frozen, before it forks any: the children start with it on.)
gc.disable()
try:
    from mlops_gitops.core.lint import warm_runner

    warm_runner()
except Exception:  # noqa: BLE001 - the server must start anyway: a worker then loads the rules itself
    pass
finally:
    # What the server holds now (cfn-lint's modules, rules and schemas, sympy) lives as long as the
    # workers it forks: out of the garbage collector's sight (gc.freeze, made for servers that fork),
    # the workers' collections no longer walk it, and don't write to the pages they share with the
    # server. It is frozen without a collection first: the few thousand objects the load left
    # unreachable stay (the server's memory is the same to the MB), and the server is ready ~0.1 s
    # sooner. A lint allocates many short-lived objects: a larger first generation lets fewer of them
    # be collected, and promoted, in vain. (Together about 0.5 s of the workers' 6-8.5 s of CPU in a
    # cold lint of this repository; the workers' memory grows by ~15 MB each.)
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    gc.enable()
