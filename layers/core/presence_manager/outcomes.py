"""The outcomes of a change: the one set of names used by the state machine, the audit trail and the metrics."""

from __future__ import annotations

from typing import Literal

Outcome = Literal["applied", "dry_run", "rejected", "conflict", "rate_limited", "failed"]

APPLIED: Outcome = "applied"
DRY_RUN: Outcome = "dry_run"
REJECTED: Outcome = "rejected"
CONFLICT: Outcome = "conflict"
RATE_LIMITED: Outcome = "rate_limited"
FAILED: Outcome = "failed"

#: Every outcome, in the order the state machine declares them.
OUTCOMES: tuple[Outcome, ...] = (APPLIED, DRY_RUN, REJECTED, CONFLICT, RATE_LIMITED, FAILED)
#: Outcomes whose execution succeeds: the workflow did what it should (applying, or declining by policy).
EXECUTION_SUCCEEDS: frozenset[Outcome] = frozenset({APPLIED, DRY_RUN, REJECTED})
#: Outcomes that failed: only their audit records carry an ``error``.
FAILED_OUTCOMES: frozenset[Outcome] = frozenset({CONFLICT, RATE_LIMITED, FAILED})

#: Not an outcome of our workflow: the audit record of a presence change made outside this app (the agent in their
#: Genesys client, a supervisor, another integration), seen through a Genesys event (presence_manager/observe.py).
#: Never counted among the workflow's outcomes, in the aggregates or the metrics.
Observed = Literal["observed"]
OBSERVED: Observed = "observed"
