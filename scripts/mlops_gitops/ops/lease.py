"""One deploy per stage at a time: a lease taken before any change and released at the end.

The lease is the object ``locks/<stage>.json`` in the stage's deploy bucket, written only if absent
(aws.lease). It names its holder (the CodeBuild build, or user@host), pid, commit, start and expiry,
which the run pushes out while it lasts; a lease past its expiry (a run killed without releasing it),
or one a killed process on this machine left, may be taken over, with a note. A run
that finds the lease held says who holds it and since when, and stops (exit 3) before touching
anything.

The builds of one CodeBuild batch (issue 17: a stage's deploy fanned out over shards) share one
lease: its holder is the batch's id, a build of the same batch joins a live lease of that holder
instead of being refused, every member renews it, and only the batch's final step releases it
(a shard that ends early must not free the stage while others still deploy). Any other run, a
plain deploy or another batch, still finds the stage busy.

Holding the lease is what makes deploy's recovery safe: a stack left in REVIEW_IN_PROGRESS or
ROLLBACK_COMPLETE is deleted and recreated only by the run holding the stage's lease, so it can't
be a stack another run is still creating.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from mlops_gitops.aws.errors import AWS_ERRORS, reason
from mlops_gitops.aws.lease import LeaseRecord, LeaseStore, expiry, utc_now
from mlops_gitops.errors import AwsError

LEASE_SECONDS = 2 * 3600  # renewed every 30 minutes while the run lasts; an older lease is a dead run's
LOCKS_PREFIX = "locks"


class StageBusy(AwsError):
    """Another run holds the stage's lease (exit 3: nothing was touched)."""


def lease_key(stage: str) -> str:
    return f"{LOCKS_PREFIX}/{stage}.json"


def holder_identity(environ: Mapping[str, str]) -> str:
    """The CodeBuild build id when in CodeBuild, else user@host."""
    build = environ.get("CODEBUILD_BUILD_ID")
    if build:
        return build
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def abandoned_here(environ: Mapping[str, str]) -> Callable[[LeaseRecord], bool]:
    """Whether a lease was taken on this machine by a process that is gone (a run killed half-way
    here; the next run on the same machine need not wait for the expiry). A lease from another
    machine or a CodeBuild build is only ever taken over once it has expired."""
    me = holder_identity(environ)

    def check(record: LeaseRecord) -> bool:
        if environ.get("CODEBUILD_BUILD_ID") or record.holder != me or record.pid == os.getpid():
            return False
        try:
            os.kill(record.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # exists, but not ours to signal
            return False
        return False

    return check


def _when(record: LeaseRecord) -> str:
    return record.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(record: LeaseRecord) -> str:
    return (
        f"{record.holder} (pid {record.pid}, commit {record.commit[:12]}) since {_when(record)}, "
        f"lease until {record.expires_at.strftime('%Y-%m-%d %H:%M:%S UTC')}"
    )


def _keep_renewed(
    store: LeaseStore,
    bucket: str,
    key: str,
    mine: LeaseRecord,
    etag: str,
    seconds: float,
    stop: threading.Event,
    note: Callable[[str], None],
    joint: bool = False,
) -> None:
    """While the run lasts, push the lease's expiry out every quarter of its length, so a long
    deploy keeps it and a dead one loses it within ``seconds``. Stops (with a warning) if the
    lease was taken from us."""
    while not stop.wait(seconds / 4):
        extended = replace(mine, expires_at=expiry(utc_now(), seconds))
        try:
            if joint:
                renewed = store.renew_joint(bucket, key, extended)
                etag = "-" if renewed is not None else ""
            else:
                etag = store.renew(bucket, key, extended, etag) or ""
        except AWS_ERRORS as exc:
            note(
                f"warning: the deploy lease s3://{bucket}/{key} was not renewed ({reason(exc)}); will retry\n"
            )
            continue
        if not etag:
            note(
                f"warning: the deploy lease s3://{bucket}/{key} is no longer ours; another run may deploy this stage\n"
            )
            return


@contextmanager
def stage_lease(
    store: LeaseStore | None,
    bucket: str,
    stage: str,
    commit: str,
    environ: Mapping[str, str],
    note: Callable[[str], None] = lambda text: None,
    seconds: float = LEASE_SECONDS,
    joint: str | None = None,
    release: bool = True,
) -> Iterator[LeaseRecord]:
    """Hold ``stage``'s lease for the ``with`` block; StageBusy when another run holds it.

    ``joint``: a batch's id: the lease is held in that name and shared with the batch's other
    builds (joined when one of them holds it). ``release``: False for a batch's shards, whose
    lease the batch's final step releases."""
    if store is None:
        raise AwsError(f"stage {stage!r}: no S3 access for the deploy lease; nothing was deployed")
    key = lease_key(stage)
    now = utc_now()
    mine = LeaseRecord(
        joint or holder_identity(environ), os.getpid(), commit, now, expiry(now, seconds), uuid.uuid4().hex
    )
    try:
        taken = store.take(
            bucket,
            key,
            mine,
            abandoned_here(environ),
            joinable=lambda found: joint is not None and found.holder == joint,
        )
    except AWS_ERRORS as exc:
        raise AwsError(
            f"stage {stage!r}: could not take the deploy lease s3://{bucket}/{key} ({reason(exc)}); nothing was deployed"
        ) from exc
    if not taken.ours:
        who = describe(taken.held_by) if taken.held_by else "another run"
        raise StageBusy(
            f"stage {stage!r} is being deployed by {who}; nothing was changed. Wait for that run to end "
            f"(or, if it is dead, delete s3://{bucket}/{key} or wait for the lease to expire)"
        )
    if taken.joined and taken.held_by is not None:
        mine = taken.held_by  # the batch's lease: its token is what renewals and the release match
        note(f"note: joined batch {joint}'s deploy lease of stage {stage!r}\n")
    elif taken.took_over is not None:
        why = "expired" if taken.took_over.expired(now) else "abandoned (its process is gone)"
        note(
            f"note: took over the {why} deploy lease of stage {stage!r} held by {describe(taken.took_over)}\n"
        )
    elif taken.unreadable:
        note(f"note: replaced an unreadable deploy lease at s3://{bucket}/{key}\n")
    stop = threading.Event()
    renewer = threading.Thread(
        target=_keep_renewed,
        args=(store, bucket, key, mine, taken.etag, seconds, stop, note, joint is not None),
        name=f"lease-{stage}",
        daemon=True,
    )
    renewer.start()
    try:
        yield mine
    finally:
        stop.set()
        renewer.join(timeout=30)
        if release:
            _release(store, bucket, key, stage, mine, note)


def _release(
    store: LeaseStore, bucket: str, key: str, stage: str, mine: LeaseRecord, note: Callable[[str], None]
) -> None:
    try:
        if not store.release(bucket, key, mine.token):
            note(f"warning: the deploy lease of stage {stage!r} was no longer ours when released\n")
    except AWS_ERRORS as exc:
        note(
            f"warning: the deploy lease s3://{bucket}/{key} was not released ({reason(exc)}); "
            f"it expires at {mine.expires_at.strftime('%Y-%m-%d %H:%M:%S UTC')}\n"
        )
