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
TRANSIENT_ERRORS = [UNAVAILABLE, *LAMBDA_SERVICE_ERRORS]
#: A LockedUpdate that ran out of time may have sent its PATCH: as ambiguous as a lost answer.
AMBIGUOUS_WRITE_ERRORS = [WRITE_UNCONFIRMED, "Sandbox.Timedout", "States.Timeout"]

#: Tasks that call Genesys and so may be answered 429, and where each resumes after its Retry-After wait.
#: LockedUpdate resumes at Validate: after a wait, what the write depends on (presence, routing status, shift,
#: business hours) is validated again before anything is written.
RATE_LIMIT_RESUME = {"Validate": "Validate", "LockedUpdate": "Validate", "SkillOverride": "SkillOverride"}

#: The execution's counters of survived retries (each also a metric and an ``attempts`` entry of the audit record).
COUNTERS = ("conflictRetries", "rateLimitWaits", "leaseWaits", "unconfirmedWrites")

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


def _transient_retry() -> list[State]:
    return [
        {
            "ErrorEquals": TRANSIENT_ERRORS,
            "IntervalSeconds": "${TransientRetryIntervalSeconds}",
            "MaxAttempts": 2,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }
    ]


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


def _wait_seconds_from(error_path: str, prefix: str, wait: State) -> dict[str, State]:
    """Read ``retryAfterSeconds`` out of a caught Lambda error (``Cause`` is JSON whose ``errorMessage`` is the
    JSON details of our error), then wait that long."""
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
            "Next": wait["name"],
        },
        wait["name"]: {"Type": "Wait", "SecondsPath": "$.wait.details.retryAfterSeconds", "Next": wait["next"]},
    }


def change_states() -> dict[str, State]:
    """The per-agent states, from ``Prepare`` to ``Record`` (shared by both definitions)."""
    failed, conflict = OUTCOME_STATES["failed"], OUTCOME_STATES["conflict"]
    states: dict[str, State] = {
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
            _transient_retry(),
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
        # ---- 412: the presence changed after Validate observed it (someone else's edit) ---------------------------
        "ConflictBudgetLeft": _budget(
            "conflictRetries",
            "${ConflictMaxRetries}",
            conflict,
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
        # ---- our own contention: another change of ours holds the lease, or wrote first -------------------------
        "LeaseBudgetLeft": _budget(
            "leaseWaits",
            "${LeaseMaxWaits}",
            failed,
            "CountLeaseWait",
            "Another change of ours holds the agent's lease: wait until it can be free, at most N times.",
        ),
        "CountLeaseWait": _count("leaseWaits", "ReadLeaseWait"),
        **_wait_seconds_from("$.leaseHeld", "LeaseWait", {"name": "WaitForLease", "next": "LockedUpdate"}),
        "OwnWriteBudgetLeft": _budget(
            "leaseWaits",
            "${LeaseMaxWaits}",
            failed,
            "CountOwnWrite",
            "Another change of ours wrote the agent's presence after Validate: re-validate against it (our own "
            "contention, counted as a lease wait, not as a conflict).",
        ),
        "CountOwnWrite": _count("leaseWaits", "Validate"),
        # ---- a write whose answer was lost: let it land, then re-read and reconcile under the lease ---------------
        "UnconfirmedWriteBudgetLeft": _budget(
            "unconfirmedWrites",
            2,
            failed,
            "CountUnconfirmedWrite",
            "The PATCH was sent but its answer was lost: never repeat it blindly. The lease stays ours while it "
            "may still land; then LockedUpdate re-reads: landed = applied, not landed = written again.",
        ),
        "CountUnconfirmedWrite": _count("unconfirmedWrites", "WaitForWriteToSettle"),
        "WaitForWriteToSettle": {"Type": "Wait", "Seconds": "${AmbiguousWriteSettleSeconds}", "Next": "LockedUpdate"},
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
        "Export": {
            "Type": "Task",
            "Resource": "${ExportFunctionArn}",
            "ResultPath": "$.export",
            "Retry": [
                {
                    "ErrorEquals": [EXPORT_FAILED, *TRANSIENT_ERRORS],
                    "IntervalSeconds": "${TransientRetryIntervalSeconds}",
                    "MaxAttempts": 3,
                    "BackoffRate": 2,
                    "JitterStrategy": "FULL",
                }
            ],
            "Catch": [_catch(["States.ALL"], "$.exportError", OUTCOME_STATES["applied"])],
            "Next": OUTCOME_STATES["applied"],
        },
        # ---- the shared Retry-After loop -----------------------------------------------------------------
        "RateLimitBudgetLeft": _budget(
            "rateLimitWaits",
            "${RateLimitMaxWaits}",
            OUTCOME_STATES["rate_limited"],
            "CountRateLimitWait",
            "429 (or our own empty rate budget): wait exactly Retry-After, then resume, at most N waits.",
        ),
        "CountRateLimitWait": _count("rateLimitWaits", "ReadRetryAfter"),
        **_wait_seconds_from("$.rateLimited", "RetryAfter", {"name": "WaitRetryAfter", "next": "ResumeAfterRateLimit"}),
        "ResumeAfterRateLimit": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.resumeAt", "StringEquals": resume, "Next": resume}
                for resume in sorted(set(RATE_LIMIT_RESUME.values()))
            ],
            "Default": failed,
        },
    }
    for task, resume in RATE_LIMIT_RESUME.items():
        states[f"{task}RateLimited"] = {
            "Type": "Pass",
            "Result": resume,
            "ResultPath": "$.resumeAt",
            "Next": "RateLimitBudgetLeft",
        }
    for outcome, name in OUTCOME_STATES.items():
        states[name] = {"Type": "Pass", "Result": outcome, "ResultPath": "$.outcome", "Next": "Record"}
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
        "Next": "Finish",
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
    item_states: dict[str, State] = {
        **change_states(),
        "Finish": {"Type": "Pass", "OutputPath": "$.record", "End": True},
        "AuditDeferred": {
            "Type": "Pass",
            "Parameters": {"changeId.$": "$.changeId", "outcome.$": "$.outcome", "auditDeferred": True},
            "End": True,
        },
    }
    return {
        "Comment": "A bulk presence change: the per-agent workflow for every agent, with bounded concurrency.",
        "StartAt": "ResolveAgents",
        "States": {
            "ResolveAgents": {
                "Type": "Task",
                "Resource": "${ResolveAgentsFunctionArn}",
                "Parameters": {"bulkId.$": "$$.Execution.Name", "request.$": "$"},
                "ResultPath": "$.agents",
                "Retry": _transient_retry(),
                "Next": "ChangeEachAgent",
            },
            "ChangeEachAgent": {
                "Type": "Map",
                "ItemsPath": "$.agents.items",
                "MaxConcurrency": "${BulkMaxConcurrency}",
                "ItemSelector": {
                    "changeId.$": "$$.Map.Item.Value.changeId",
                    "request.$": "$$.Map.Item.Value.request",
                    "executionStartTime.$": "$$.Execution.StartTime",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Prepare",
                    "States": item_states,
                },
                "ResultPath": "$.results",
                "Next": "Summarize",
            },
            "Summarize": {
                "Type": "Pass",
                "Parameters": {"bulkId.$": "$$.Execution.Name", "agents.$": "$.results"},
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
