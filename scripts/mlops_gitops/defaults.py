"""Defaults that `mlopsctl --help` shows: here, in a module that imports nothing, so that building
the command line (every mlopsctl run) does not import the modules that use them (ops.bootstrap,
local.server, config.environments: ~0.15 s together, before `validate --templates` can start its
lint server). Those modules import them from here."""

from __future__ import annotations

# What AWS Organizations puts in the accounts it creates (`mlopsctl bootstrap --target-role`).
DEFAULT_TARGET_ROLE = "OrganizationAccountAccessRole"

# The account the example configs are written for (their registry ARNs and ECR images name it): the
# local AWS's account (`mlopsctl local`).
DEFAULT_ACCOUNT = "111122223333"

# Stacks `deploy` runs at once unless environments.json's deploy.max_parallel or --max-parallel say
# otherwise. Sized for waiting, not for CPU: a deploy's threads wait on CloudFormation, and their
# waits share one DescribeStacks round per interval (aws.stack_watch), so stacks in flight add no
# polling calls; 32 is also the HTTP connections each AWS client keeps (aws.clients), so no thread
# waits for a connection. CloudFormation's API rate is the bound: the clients' adaptive retry mode
# slows down on "Rate exceeded" instead of failing.
DEFAULT_MAX_PARALLEL = 32
