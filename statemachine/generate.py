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

State = dict[str, Any]

TRANSIENT_ERRORS = [
    "GenesysUnavailable",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]

#: Tasks that call Genesys and so may be answered 429: each resumes here after its Retry-After wait.
RATE_LIMITED_TASKS = ("Validate", "LockedUpdate", "SkillOverride")

OUTCOMES = {
    "applied": "OutcomeApplied",
    "dry_run": "OutcomeDryRun",
    "rejected": "OutcomeRejected",
    "conflict": "OutcomeConflict",
    "rate_limited": "OutcomeRateLimited",
    "failed": "OutcomeFailed",
}
SUCCESSFUL_OUTCOMES = ("applied", "dry_run", "rejected")


def _task(function: str, next_state: str, result_path: str, catches: list[State], retry: list[State]) -> State:
    return {
        "Type": "Task",
        "Resource": f"${{{function}Arn}}",
        "ResultPath": result_path,
        "Retry": retry,
        "Catch": catches,
        "Next": next_state,
    }


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


def _catch(errors: list[str], next_state: str) -> State:
    return {"ErrorEquals": errors, "ResultPath": "$.error", "Next": next_state}


def _genesys_catches(task: str, extra: list[State] | None = None) -> list[State]:
    return [
        _catch(["GenesysRateLimited"], f"{task}RateLimited"),
        *(extra or []),
        _catch(["States.ALL"], OUTCOMES["failed"]),
    ]


def change_states() -> dict[str, State]:
    """The per-agent states, from ``Prepare`` to ``Record`` (shared by both definitions)."""
    states: dict[str, State] = {
        "Prepare": {
            "Type": "Pass",
            "Comment": "Counters for the bounded 412 and 429 loops.",
            "Parameters": {
                "changeId.$": "$.changeId",
                "request.$": "$.request",
                "executionStartTime.$": "$.executionStartTime",
                "counters": {"conflictRetries": 0, "rateLimitWaits": 0},
            },
            "Next": "Validate",
        },
        "Validate": _task(
            "ValidateFunction",
            "PolicyDecision",
            "$.validation",
            _genesys_catches("Validate", [_catch(["IfMatchFailed"], OUTCOMES["conflict"])]),
            _transient_retry(),
        ),
        "PolicyDecision": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.validation.allowed", "BooleanEquals": False, "Next": OUTCOMES["rejected"]},
                {"Variable": "$.validation.dryRun", "BooleanEquals": True, "Next": OUTCOMES["dry_run"]},
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
            _genesys_catches(
                "LockedUpdate",
                [
                    _catch(["IfMatchFailed"], OUTCOMES["conflict"]),
                    _catch(["PreconditionFailed"], "ConflictBudgetLeft"),
                ],
            ),
            [
                {
                    "ErrorEquals": ["LeaseHeld"],
                    "IntervalSeconds": "${TransientRetryIntervalSeconds}",
                    "MaxAttempts": 5,
                    "BackoffRate": 1.5,
                    "JitterStrategy": "FULL",
                },
                *_transient_retry(),
            ],
        ),
        "ConflictBudgetLeft": {
            "Type": "Choice",
            "Comment": "412: the presence changed after Validate observed it. Re-validate, at most N times.",
            "Choices": [
                {
                    "Variable": "$.counters.conflictRetries",
                    "NumericGreaterThanEquals": "${ConflictMaxRetries}",
                    "Next": OUTCOMES["conflict"],
                }
            ],
            "Default": "CountConflictRetry",
        },
        "CountConflictRetry": {
            "Type": "Pass",
            "Parameters": {
                "conflictRetries.$": "States.MathAdd($.counters.conflictRetries, 1)",
                "rateLimitWaits.$": "$.counters.rateLimitWaits",
            },
            "ResultPath": "$.counters",
            "Next": "ConflictJitter",
        },
        "ConflictJitter": {
            "Type": "Pass",
            "Parameters": {
                "seconds.$": "States.MathRandom(${ConflictBackoffMinSeconds}, ${ConflictBackoffMaxSeconds})"
            },
            "ResultPath": "$.backoff",
            "Next": "ConflictBackoff",
        },
        "ConflictBackoff": {"Type": "Wait", "SecondsPath": "$.backoff.seconds", "Next": "Validate"},
        "HasSkillOverrides": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.validation.hasSkillOverrides", "BooleanEquals": True, "Next": "SkillOverride"}],
            "Default": "Export",
        },
        "SkillOverride": _task(
            "SkillOverrideFunction",
            "Export",
            "$.skills",
            _genesys_catches("SkillOverride"),
            _transient_retry(),
        ),
        "Export": {
            "Type": "Task",
            "Resource": "${ExportFunctionArn}",
            "ResultPath": "$.export",
            "Retry": [
                {
                    "ErrorEquals": ["ExportFailed", *TRANSIENT_ERRORS],
                    "IntervalSeconds": "${TransientRetryIntervalSeconds}",
                    "MaxAttempts": 3,
                    "BackoffRate": 2,
                    "JitterStrategy": "FULL",
                }
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.exportError", "Next": "OutcomeApplied"}],
            "Next": "OutcomeApplied",
        },
        # ---- the shared Retry-After loop -----------------------------------------------------------------
        "RateLimitBudgetLeft": {
            "Type": "Choice",
            "Comment": "429: wait exactly Retry-After, then run the same task again, at most N waits.",
            "Choices": [
                {
                    "Variable": "$.counters.rateLimitWaits",
                    "NumericGreaterThanEquals": "${RateLimitMaxWaits}",
                    "Next": OUTCOMES["rate_limited"],
                }
            ],
            "Default": "ReadRetryAfter",
        },
        "ReadRetryAfter": {
            "Type": "Pass",
            "Parameters": {"cause.$": "States.StringToJson($.error.Cause)"},
            "ResultPath": "$.rateLimit",
            "Next": "ParseRetryAfter",
        },
        "ParseRetryAfter": {
            "Type": "Pass",
            "Parameters": {"details.$": "States.StringToJson($.rateLimit.cause.errorMessage)"},
            "ResultPath": "$.rateLimit",
            "Next": "CountRateLimitWait",
        },
        "CountRateLimitWait": {
            "Type": "Pass",
            "Parameters": {
                "conflictRetries.$": "$.counters.conflictRetries",
                "rateLimitWaits.$": "States.MathAdd($.counters.rateLimitWaits, 1)",
            },
            "ResultPath": "$.counters",
            "Next": "WaitRetryAfter",
        },
        "WaitRetryAfter": {
            "Type": "Wait",
            "SecondsPath": "$.rateLimit.details.retryAfterSeconds",
            "Next": "ResumeAfterRateLimit",
        },
        "ResumeAfterRateLimit": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.resumeAt", "StringEquals": task, "Next": task} for task in RATE_LIMITED_TASKS],
            "Default": OUTCOMES["failed"],
        },
    }
    for task in RATE_LIMITED_TASKS:
        states[f"{task}RateLimited"] = {
            "Type": "Pass",
            "Result": task,
            "ResultPath": "$.resumeAt",
            "Next": "RateLimitBudgetLeft",
        }
    for outcome, name in OUTCOMES.items():
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
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recordError", "Next": "KeepAuditRecord"}],
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
                {"Variable": "$.outcome", "StringEquals": outcome, "Next": "Done"} for outcome in SUCCESSFUL_OUTCOMES
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
