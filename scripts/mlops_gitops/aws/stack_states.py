"""CloudFormation stack statuses, grouped by what a deployer may do with them. Plain strings, so
the pure planner and the AWS gateway share one definition."""

from __future__ import annotations

IN_PROGRESS = frozenset(
    {
        "CREATE_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "IMPORT_IN_PROGRESS",
        "IMPORT_ROLLBACK_IN_PROGRESS",
        "REVIEW_IN_PROGRESS",
    }
)
# Updatable, last known good states.
STABLE_OK = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
# A stack that never finished its first create holds nothing worth keeping: delete and recreate.
# REVIEW_IN_PROGRESS is the empty shell a CREATE change set leaves when its run dies before
# executing it. (AWS would also take a new CREATE change set on it; moto can't execute that.
# Deleting it assumes one deploy per stage at a time, which CodePipeline guarantees.)
NEVER_CREATED = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "REVIEW_IN_PROGRESS"})
