"""Generates the state machine definitions (JSONPath ASL) from one source.

    python statemachine/generate.py          # rewrite the .asl.json files
    python statemachine/generate.py --check  # exit 1 when a committed file is stale (run by the tests)

``presence_change.asl.json`` runs one change. ``bulk_change.asl.json`` runs the very same per-agent states inside
an inline Map (nested executions do not run on the local engine, and an inline Map keeps every agent's path
visible in one execution history). Placeholders ``${...}`` are filled by SAM's ``DefinitionSubstitutions``
(numbers are substituted unquoted, so the files are JSON only after substitution).

Error names are the class names of presence_manager.errors (the Lambda ``errorType``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "layers" / "core"))

from presence_manager import errors  # noqa: E402  (the error names are the classes' names)
from presence_manager.outcomes import EXECUTION_SUCCEEDS, OUTCOMES  # noqa: E402

State = dict[str, Any]


def error_name(error: type[Exception]) -> str:
    """The ASL error name of one of our errors: its class name, the Lambda ``errorType``."""
    return error.__name__


RATE_LIMITED = error_name(errors.GenesysRateLimited)
UNAVAILABLE = error_name(errors.GenesysUnavailable)
WRITE_UNCONFIRMED = error_name(errors.GenesysWriteUnconfirmed)
PRECONDITION_FAILED = error_name(errors.PreconditionFailed)
IF_MATCH_FAILED = error_name(errors.IfMatchFailed)
SUPERSEDED_BY_OWN_WRITE = error_name(errors.SupersededByOwnWrite)
LEASE_HELD = error_name(errors.LeaseHeld)
LIVE_INTERACTION = error_name(errors.LiveInteraction)
EXPORT_FAILED = error_name(errors.ExportFailed)

#: Errors of the Lambda service itself (the invocation never ran our code): safe to run again.
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
TRANSIENT_ERRORS = [UNAVAILABLE, error_name(errors.AwsThrottled), *LAMBDA_SERVICE_ERRORS]
#: A Lambda that ran out of time: a step that only reads may simply run again; a LockedUpdate may have sent its
#: write, as ambiguous as a lost answer (a batch's lost answers are per agent, ``unconfirmed``, so for a batch only a
#: timeout loses the whole step's answer).
LAMBDA_TIMEOUTS = ["Sandbox.Timedout", "States.Timeout"]
AMBIGUOUS_WRITE_ERRORS = [WRITE_UNCONFIRMED, *LAMBDA_TIMEOUTS]

#: Tasks that call Genesys and so may be answered 429, and where each resumes after its Retry-After wait.
#: LockedUpdate resumes at Validate: after a wait, what the write depends on (presence, routing status, shift,
#: business hours) is validated again before anything is written.
RATE_LIMIT_RESUME = {"Validate": "Validate", "LockedUpdate": "Validate", "SkillOverride": "SkillOverride"}

#: The execution's counters of survived retries (each also a metric and an ``attempts`` entry of the audit record).
COUNTERS = ("conflictRetries", "rateLimitWaits", "budgetWaits", "leaseWaits", "unconfirmedWrites")

OUTCOME_STATES = {outcome: "Outcome" + "".join(part.title() for part in outcome.split("_")) for outcome in OUTCOMES}


#: What every step is given: the change, parsed and checked once by each step's model (``StepInput``).
STEP_BASICS = ("changeId", "executionStartTime", "request", "counters")


def _given(*paths: str) -> dict[str, str]:
    """A task's ``Parameters``: only the parts of the state the step needs, never the whole execution state."""
    return {f"{path}.$": f"$.{path}" for path in (*STEP_BASICS, *paths)}


def _task(
    function: str,
    next_state: str,
    result_path: str,
    catches: list[State],
    retry: list[State],
    parameters: dict[str, str] | None = None,
) -> State:
    task: State = {"Type": "Task", "Resource": f"${{{function}Arn}}"}
    if parameters is not None:
        task["Parameters"] = parameters
    task.update({"ResultPath": result_path, "Retry": retry, "Catch": catches, "Next": next_state})
    return task


def _transient_retry(*also: str) -> list[State]:
    return [
        {
            "ErrorEquals": [*TRANSIENT_ERRORS, *also],
            "IntervalSeconds": "${TransientRetryIntervalSeconds}",
            "MaxAttempts": 2,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }
    ]


def _budget_retry() -> State:
    """A bulk's own steps outside the batches (planning) wait out an empty rate budget or a 429 with a plain Retry:
    they write nothing, and a bulk must not fail because single changes were spending the budget."""
    return {
        "ErrorEquals": [RATE_LIMITED],
        "IntervalSeconds": 2,
        "MaxAttempts": 20,
        "BackoffRate": 1.3,
        "JitterStrategy": "FULL",
    }


def _catch(errors_: list[str], result_path: str, next_state: str) -> State:
    """Each kind of caught error has its own result path, so a survived retry never reads as the failure."""
    return {"ErrorEquals": errors_, "ResultPath": result_path, "Next": next_state}


def _failure() -> State:
    return _catch(["States.ALL"], "$.failure", OUTCOME_STATES["failed"])


def _count(counter: str, next_state: str) -> State:
    """A Pass state adding one to ``counter`` (the other counters are carried over)."""
    return {
        "Type": "Pass",
        "Parameters": {
            f"{name}.$": f"States.MathAdd($.counters.{name}, 1)" if name == counter else f"$.counters.{name}"
            for name in COUNTERS
        },
        "ResultPath": "$.counters",
        "Next": next_state,
    }


def _budget(counter: str, limit: str, exhausted: str, default: str, comment: str) -> State:
    return {
        "Type": "Choice",
        "Comment": comment,
        "Choices": [{"Variable": f"$.counters.{counter}", "NumericGreaterThanEquals": limit, "Next": exhausted}],
        "Default": default,
    }


def _wait_seconds_from(error_path: str, prefix: str, next_state: str) -> dict[str, State]:
    """Read ``retryAfterSeconds`` out of a caught Lambda error into ``$.wait.details`` (``Cause`` is JSON whose
    ``errorMessage`` is the JSON details of our error)."""
    return {
        f"Read{prefix}": {
            "Type": "Pass",
            "Parameters": {"cause.$": f"States.StringToJson({error_path}.Cause)"},
            "ResultPath": "$.wait",
            "Next": f"Parse{prefix}",
        },
        f"Parse{prefix}": {
            "Type": "Pass",
            "Parameters": {"details.$": "States.StringToJson($.wait.cause.errorMessage)"},
            "ResultPath": "$.wait",
            "Next": next_state,
        },
    }


def _wait_seconds(path: str, name: str, next_state: str) -> State:
    """Put a number the state already holds where the waits read it (``$.wait.details.retryAfterSeconds``)."""
    return {
        "Type": "Pass",
        "Parameters": {"details": {"retryAfterSeconds.$": path}},
        "ResultPath": "$.wait",
        "Next": next_state,
        "Comment": name,
    }


WAIT_SECONDS = "$.wait.details.retryAfterSeconds"


def _rate_limit_loop(resume: dict[str, str]) -> dict[str, State]:
    """429 (or our own empty rate budget): wait exactly Retry-After, then resume, at most N waits. Every Genesys
    task's Catch enters at ``{Task}RateLimited``; ``resume`` maps each task to where it resumes."""
    failed = OUTCOME_STATES["failed"]
    states: dict[str, State] = {
        **_wait_seconds_from("$.rateLimited", "RetryAfter", "GenesysOrBudget"),
        "GenesysOrBudget": {
            "Type": "Choice",
            "Comment": "A 429 from Genesys, or our own rate budget for the token empty (no request was sent): the "
            "same wait, each with its own bound (budget waits are expected under load, 429s are not).",
            "Choices": [{"Variable": "$.wait.details.source", "StringEquals": "budget", "Next": "BudgetWaitsLeft"}],
            "Default": "RateLimitBudgetLeft",
        },
        "BudgetWaitsLeft": _budget(
            "budgetWaits",
            "${RateBudgetMaxWaits}",
            OUTCOME_STATES["rate_limited"],
            "CountBudgetWait",
            "The deployment's rate budget is empty: wait until it can pay, at most N times.",
        ),
        "CountBudgetWait": _count("budgetWaits", "WaitRetryAfter"),
        "RateLimitBudgetLeft": _budget(
            "rateLimitWaits",
            "${RateLimitMaxWaits}",
            OUTCOME_STATES["rate_limited"],
            "CountRateLimitWait",
            "429 (or our own empty rate budget): wait exactly Retry-After, then resume, at most N waits.",
        ),
        "CountRateLimitWait": _count("rateLimitWaits", "WaitRetryAfter"),
        "WaitRetryAfter": {"Type": "Wait", "SecondsPath": WAIT_SECONDS, "Next": "ResumeAfterRateLimit"},
        "ResumeAfterRateLimit": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.resumeAt", "StringEquals": target, "Next": target}
                for target in sorted(set(resume.values()))
            ],
            "Default": failed,
        },
    }
    for task, target in resume.items():
        states[f"{task}RateLimited"] = {
            "Type": "Pass",
            "Result": target,
            "ResultPath": "$.resumeAt",
            "Next": "ReadRetryAfter",
        }
    return states


def _conflict_loop() -> dict[str, State]:
    """412: the presence moved after Validate observed it (someone else's edit). Re-validate, at most N times."""
    return {
        "ConflictBudgetLeft": _budget(
            "conflictRetries",
            "${ConflictMaxRetries}",
            OUTCOME_STATES["conflict"],
            "CountConflictRetry",
            "412: the presence changed after Validate observed it. Re-validate, at most N times.",
        ),
        "CountConflictRetry": _count("conflictRetries", "ConflictJitter"),
        "ConflictJitter": {
            "Type": "Pass",
            "Parameters": {
                "seconds.$": "States.MathRandom(${ConflictBackoffMinSeconds}, ${ConflictBackoffMaxSeconds})"
            },
            "ResultPath": "$.backoff",
            "Next": "ConflictBackoff",
        },
        "ConflictBackoff": {"Type": "Wait", "SecondsPath": "$.backoff.seconds", "Next": "Validate"},
    }


def _lease_loop(read_wait: dict[str, State]) -> dict[str, State]:
    """Our own contention: another change of ours holds the agent's lease. Wait until it can be free, at most N
    times, then LockedUpdate again (it re-reads under the lease)."""
    return {
        "LeaseBudgetLeft": _budget(
            "leaseWaits",
            "${LeaseMaxWaits}",
            OUTCOME_STATES["failed"],
            "CountLeaseWait",
            "Another change of ours holds the agent's lease: wait until it can be free, at most N times.",
        ),
        "CountLeaseWait": _count("leaseWaits", "ReadLeaseWait"),
        **read_wait,
        "WaitForLease": {"Type": "Wait", "SecondsPath": WAIT_SECONDS, "Next": "LockedUpdate"},
    }


def _unconfirmed_write_loop() -> dict[str, State]:
    """A write whose answer was lost: let it land, then LockedUpdate re-reads and reconciles under the lease."""
    return {
        "UnconfirmedWriteBudgetLeft": _budget(
            "unconfirmedWrites",
            2,
            OUTCOME_STATES["failed"],
            "CountUnconfirmedWrite",
            "The write was sent but its answer was lost: never repeat it blindly. The lease stays ours while it "
            "may still land; then LockedUpdate re-reads: landed = applied, not landed = written again.",
        ),
        "CountUnconfirmedWrite": _count("unconfirmedWrites", "WaitForWriteToSettle"),
        "WaitForWriteToSettle": {"Type": "Wait", "Seconds": "${AmbiguousWriteSettleSeconds}", "Next": "LockedUpdate"},
    }


def _record(done: str, outcomes: tuple[str, ...] = OUTCOMES) -> dict[str, State]:
    """Every outcome goes through Record; a Record the audit table keeps refusing parks the state on the fallback
    queue (its consumer, the Record function, writes it later): no audit record is lost."""
    states: dict[str, State] = {
        OUTCOME_STATES[outcome]: {"Type": "Pass", "Result": outcome, "ResultPath": "$.outcome", "Next": "Record"}
        for outcome in outcomes
    }
    states["Record"] = {
        "Type": "Task",
        "Comment": "Exactly one immutable audit record per change, EMF metrics, per-agent aggregates.",
        "Resource": "${RecordFunctionArn}",
        "ResultPath": "$.record",
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": "${TransientRetryIntervalSeconds}",
                "MaxAttempts": 4,
                "BackoffRate": 2,
                "JitterStrategy": "FULL",
            }
        ],
        "Catch": [_catch(["States.ALL"], "$.recordError", "KeepAuditRecord")],
        "Next": done,
    }
    states["KeepAuditRecord"] = {
        "Type": "Task",
        "Comment": "The audit table refused the record after every retry: park the whole state on the fallback "
        "queue, whose consumer (the Record function) writes it once DynamoDB answers again. No record is lost.",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": "${AuditFallbackQueueUrl}", "MessageBody.$": "$"},
        "ResultPath": "$.auditFallback",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2}],
        "Next": "AuditDeferred",
    }
    return states


def _export(next_state: str, retry_errors: list[str]) -> State:
    return {
        "Type": "Task",
        "Resource": "${ExportFunctionArn}",
        "ResultPath": "$.export",
        "Retry": [
            {
                "ErrorEquals": retry_errors,
                "IntervalSeconds": "${TransientRetryIntervalSeconds}",
                "MaxAttempts": 3,
                "BackoffRate": 2,
                "JitterStrategy": "FULL",
            }
        ],
        "Catch": [_catch(["States.ALL"], "$.exportError", next_state)],
        "Next": next_state,
    }


def change_states() -> dict[str, State]:
    """One agent's states, from ``Prepare`` to ``Record``."""
    failed, conflict = OUTCOME_STATES["failed"], OUTCOME_STATES["conflict"]
    return {
        "Prepare": {
            "Type": "Pass",
            "Comment": "Counters for the bounded 412, 429, lease and unconfirmed-write loops.",
            "Parameters": {
                "changeId.$": "$.changeId",
                "request.$": "$.request",
                "executionStartTime.$": "$.executionStartTime",
                "counters": dict.fromkeys(COUNTERS, 0),
            },
            "Next": "Validate",
        },
        "Validate": _task(
            "ValidateFunction",
            "PolicyDecision",
            "$.validation",
            [
                _catch([RATE_LIMITED], "$.rateLimited", "ValidateRateLimited"),
                _catch([IF_MATCH_FAILED], "$.failure", conflict),
                _failure(),
            ],
            _transient_retry(*LAMBDA_TIMEOUTS),
            _given(),
        ),
        "PolicyDecision": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.validation.allowed", "BooleanEquals": False, "Next": OUTCOME_STATES["rejected"]},
                {"Variable": "$.validation.dryRun", "BooleanEquals": True, "Next": OUTCOME_STATES["dry_run"]},
                {
                    "Variable": "$.validation.changesPresence",
                    "BooleanEquals": False,
                    "Next": "HasSkillOverrides",
                },
            ],
            "Default": "LockedUpdate",
        },
        "LockedUpdate": _task(
            "LockedUpdateFunction",
            "HasSkillOverrides",
            "$.update",
            [
                _catch([RATE_LIMITED], "$.rateLimited", "LockedUpdateRateLimited"),
                _catch([IF_MATCH_FAILED], "$.failure", conflict),
                _catch([SUPERSEDED_BY_OWN_WRITE], "$.leaseHeld", "OwnWriteBudgetLeft"),
                _catch([PRECONDITION_FAILED], "$.conflict", "ConflictBudgetLeft"),
                _catch([LEASE_HELD], "$.leaseHeld", "LeaseBudgetLeft"),
                _catch(AMBIGUOUS_WRITE_ERRORS, "$.unconfirmedWrite", "UnconfirmedWriteBudgetLeft"),
                _catch([LIVE_INTERACTION], "$.liveInteraction", OUTCOME_STATES["rejected"]),
                _failure(),
            ],
            _transient_retry(),
            _given("validation"),
        ),
        **_conflict_loop(),
        **_lease_loop(_wait_seconds_from("$.leaseHeld", "LeaseWait", "WaitForLease")),
        "OwnWriteBudgetLeft": _budget(
            "leaseWaits",
            "${LeaseMaxWaits}",
            failed,
            "CountOwnWrite",
            "Another change of ours wrote the agent's presence after Validate: re-validate against it (our own "
            "contention, counted as a lease wait, not as a conflict).",
        ),
        "CountOwnWrite": _count("leaseWaits", "Validate"),
        **_unconfirmed_write_loop(),
        "HasSkillOverrides": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.validation.hasSkillOverrides", "BooleanEquals": True, "Next": "SkillOverride"}],
            "Default": "Export",
        },
        "SkillOverride": _task(
            "SkillOverrideFunction",
            "Export",
            "$.skills",
            [_catch([RATE_LIMITED], "$.rateLimited", "SkillOverrideRateLimited"), _failure()],
            _transient_retry(),
            _given(),
        ),
        "Export": _export(OUTCOME_STATES["applied"], [EXPORT_FAILED, *TRANSIENT_ERRORS]),
        **_rate_limit_loop(RATE_LIMIT_RESUME),
        **_record("Finish"),
    }


def _paused(next_state: str) -> State:
    return {"Variable": "$.batch.pause.retryAfterSeconds", "NumericGreaterThan": 0, "Next": next_state}


def _count_is(status: str, next_state: str) -> State:
    return {"Variable": f"$.batch.counts.{status}", "NumericGreaterThan": 0, "Next": next_state}


def _batch_task(
    function: str,
    next_state: str,
    rate_limited: str,
    *,
    retry_also: tuple[str, ...] = (),
    catches: tuple[State, ...] = (),
) -> State:
    """A batch step: given the batch and its counters, returns the batch. Per-agent conditions (a moved presence,
    a held lease, a live interaction, a lost answer) are agent statuses, never errors, so nothing an agent went
    through is lost with a caught error; only what stops the whole batch (429, a timeout, a failure) is caught."""
    return _task(
        function,
        next_state,
        "$.batch",
        [_catch([RATE_LIMITED], "$.rateLimited", rate_limited), *catches, _failure()],
        _transient_retry(*retry_also),
        {"batch.$": "$.batch", "counters.$": "$.counters"},
    )


def batch_states() -> dict[str, State]:
    """A batch of up to 50 agents, from ``PrepareBatch`` to ``Record``: the same named steps and loops as one
    change, run by the same (batch-aware) functions."""
    return {
        "PrepareBatch": {
            "Type": "Pass",
            "Comment": "One Map item: a batch of up to 50 agents of one management unit, and the loop counters.",
            "Parameters": {
                "batch": {
                    "bulkId.$": "$.bulkId",
                    "batch.$": "$.item.batch",
                    "executionStartTime.$": "$.executionStartTime",
                    "request.$": "$.request",
                    "unit.$": "$.item.unit",
                    "userIds.$": "$.item.userIds",
                },
                "counters": dict.fromkeys(COUNTERS, 0),
            },
            "Next": "Validate",
        },
        "Validate": _batch_task(
            "ValidateFunction", "AnyToWrite", "ValidateRateLimited", retry_also=tuple(LAMBDA_TIMEOUTS)
        ),
        "AnyToWrite": {
            "Type": "Choice",
            "Choices": [
                _count_is("allowed", "LockedUpdate"),
                _count_is("waiting", "LockedUpdate"),
                _count_is("unconfirmed", "LockedUpdate"),
                _count_is("skills", "SkillOverride"),
            ],
            "Default": "Export",
        },
        "LockedUpdate": _batch_task(
            "LockedUpdateFunction",
            "AfterLockedUpdate",
            "LockedUpdateRateLimited",
            # A batch LockedUpdate that ran out of time may have sent its bulk write: every agent it was to write
            # is then an unconfirmed write (the batch's ``timedOut``), reconciled under the leases after the wait.
            catches=(_catch(LAMBDA_TIMEOUTS, "$.batch.timedOut", "UnconfirmedWriteBudgetLeft"),),
        ),
        "AfterLockedUpdate": {
            "Type": "Choice",
            "Choices": [
                _paused("BatchPaused"),
                _count_is("unconfirmed", "UnconfirmedWriteBudgetLeft"),
                _count_is("moved", "ConflictBudgetLeft"),
                _count_is("waiting", "LeaseBudgetLeft"),
                _count_is("skills", "SkillOverride"),
            ],
            "Default": "Export",
        },
        **_conflict_loop(),
        **_lease_loop({"ReadLeaseWait": _wait_seconds("$.batch.waitSeconds", "ReadLeaseWait", "WaitForLease")}),
        **_unconfirmed_write_loop(),
        "SkillOverride": _batch_task("SkillOverrideFunction", "AfterSkillOverride", "SkillOverrideRateLimited"),
        "AfterSkillOverride": {"Type": "Choice", "Choices": [_paused("BatchPaused")], "Default": "Export"},
        "BatchPaused": {
            "Type": "Pass",
            "Comment": "Where the waits read how long, and why (a 429, or our own budget).",
            "Parameters": {
                "details": {
                    "retryAfterSeconds.$": "$.batch.pause.retryAfterSeconds",
                    "source.$": "$.batch.pause.source",
                }
            },
            "ResultPath": "$.wait",
            "Next": "BatchResumesAt",
        },
        "BatchResumesAt": {
            "Type": "Pass",
            "Comment": "A 429 part-way through a batch step paused it, keeping what its agents went through: the "
            "same Retry-After wait, then the step (LockedUpdate: Validate) runs again for the agents left.",
            "InputPath": "$.batch.pause.resumeAt",
            "ResultPath": "$.resumeAt",
            "Next": "GenesysOrBudget",
        },
        "Export": {
            **_batch_task("ExportFunction", OUTCOME_STATES["applied"], "unused"),
            "Catch": [_catch(["States.ALL"], "$.exportError", OUTCOME_STATES["applied"])],
        },
        **_rate_limit_loop(RATE_LIMIT_RESUME),
        # A batch's own outcome is for the agents a loop left unfinished; each agent's is in its status.
        **_record("BatchDone", ("applied", "conflict", "rate_limited", "failed")),
        "BatchDone": {
            "Type": "Pass",
            "Comment": "The item's output stays tiny: the agents' outcomes are in their audit records.",
            "Parameters": {"batch.$": "$.batch.batch", "recorded.$": "$.record.recorded"},
            "End": True,
        },
        "AuditDeferred": {
            "Type": "Pass",
            "Parameters": {"batch.$": "$.batch.batch", "auditDeferred": True},
            "End": True,
        },
    }


def presence_change_definition() -> State:
    states: dict[str, State] = {
        "Initialize": {
            "Type": "Pass",
            "Comment": "changeId is the execution name, so one idempotency key never starts two executions.",
            "Parameters": {
                "changeId.$": "$$.Execution.Name",
                "request.$": "$",
                "executionStartTime.$": "$$.Execution.StartTime",
            },
            "Next": "Prepare",
        },
        **change_states(),
        "Finish": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.outcome", "StringEquals": outcome, "Next": "Done"}
                for outcome in OUTCOMES
                if outcome in EXECUTION_SUCCEEDS
            ]
            + [
                {"Variable": "$.outcome", "StringEquals": "conflict", "Next": "Conflict"},
                {"Variable": "$.outcome", "StringEquals": "rate_limited", "Next": "RateLimited"},
            ],
            "Default": "Failed",
        },
        "Done": {"Type": "Pass", "OutputPath": "$.record", "Next": "Succeeded"},
        "Succeeded": {"Type": "Succeed"},
        "Conflict": {
            "Type": "Fail",
            "Error": "PresenceConflict",
            "Cause": "The presence kept changing under us (or no longer matched ifMatch); nothing was written.",
        },
        "RateLimited": {
            "Type": "Fail",
            "Error": "RateLimitBudgetExhausted",
            "Cause": "Genesys Cloud kept answering 429 after the allowed Retry-After waits.",
        },
        "Failed": {"Type": "Fail", "Error": "ChangeFailed", "Cause": "See the audit record for the error."},
        "AuditDeferred": {
            "Type": "Fail",
            "Error": "AuditRecordDeferred",
            "Cause": "The audit record is queued on the fallback queue and will be written when DynamoDB recovers.",
        },
    }
    return {
        "Comment": "One Genesys Cloud presence change: validate, locked update (412 loop), skill overrides, "
        "export, audit. Every Genesys task waits out 429 Retry-After here.",
        "StartAt": "Initialize",
        "States": states,
    }


def bulk_change_definition() -> State:
    return {
        "Comment": "A bulk presence change at any size: the agents are planned into batches of up to 50 (an S3 "
        "object), a Distributed Map runs each batch through the same named steps as one change, each batch "
        "records its agents' outcomes, and the result is read from those records.",
        "StartAt": "PlanBatches",
        "States": {
            "PlanBatches": {
                "Type": "Task",
                "Resource": "${ResolveAgentsFunctionArn}",
                "Parameters": {
                    "bulkId.$": "$$.Execution.Name",
                    "startedAt.$": "$$.Execution.StartTime",
                    "request.$": "$",
                },
                "ResultPath": "$.plan",
                "Retry": [*_transient_retry(), _budget_retry()],
                "Next": "ChangeEachBatch",
            },
            "ChangeEachBatch": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.key"},
                },
                "ItemSelector": {
                    "bulkId.$": "$$.Execution.Name",
                    "executionStartTime.$": "$$.Execution.StartTime",
                    "request.$": "$.plan.request",
                    "item.$": "$$.Map.Item.Value",
                },
                "MaxConcurrency": "${BulkMaxConcurrency}",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "PrepareBatch",
                    "States": batch_states(),
                },
                "ResultPath": None,
                "Catch": [_catch(["States.ALL"], "$.mapError", "Summarize")],
                "Next": "Summarize",
            },
            "Summarize": {
                "Type": "Task",
                "Comment": "The bulk's result, read from the batches' records: fails when an agent has none.",
                "Resource": "${BulkSummaryFunctionArn}",
                "Parameters": {"bulkId.$": "$$.Execution.Name"},
                "ResultPath": "$.summary",
                "Retry": [*_transient_retry(), _budget_retry()],
                "OutputPath": "$.summary",
                "End": True,
            },
        },
    }


DEFINITIONS = {
    "presence_change.asl.json": presence_change_definition,
    "bulk_change.asl.json": bulk_change_definition,
}


def _numeric_placeholders(text: str) -> str:
    """Numbers are substituted by SAM as text: leave their placeholders unquoted."""
    for name in (
        "TransientRetryIntervalSeconds",
        "ConflictMaxRetries",
        "RateLimitMaxWaits",
        "RateBudgetMaxWaits",
        "BulkMaxConcurrency",
        "LeaseMaxWaits",
        "AmbiguousWriteSettleSeconds",
    ):
        text = text.replace(f'"${{{name}}}"', f"${{{name}}}")
    return text


def render(factory: Any) -> str:
    return _numeric_placeholders(json.dumps(factory(), indent=2)) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for filename, factory in DEFINITIONS.items():
        path = HERE / filename
        text = render(factory)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(filename)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)} (run python statemachine/generate.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
