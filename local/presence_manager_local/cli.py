"""``presence-manager``: the command line for the API (local stack by default, a deployed stack with --api).

Exit codes: 0 success (the change was applied, validated or rejected as asked to be judged); 1 a change ended
as conflict, rate_limited or failed (or a bulk change had such agents); 2 bad usage or a 400 from the API;
3 the API could not be reached or answered an unexpected error; 4 not found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import httpx

DEFAULT_API = "http://127.0.0.1:3000"
EXIT_OK, EXIT_OUTCOME, EXIT_USAGE, EXIT_API, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
FAILED_OUTCOMES = frozenset({"conflict", "rate_limited", "failed"})
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {json.dumps(body)}")
        self.status = status
        self.body = body

    @property
    def exit_code(self) -> int:
        if self.status == 404:
            return EXIT_NOT_FOUND
        if 400 <= self.status < 500:
            return EXIT_USAGE
        return EXIT_API


class SigV4Auth(httpx.Auth):
    """Signs requests for an API Gateway stage protected by AWS_IAM (credentials from the usual AWS chain)."""

    def __init__(self, region: str) -> None:
        import botocore.session

        credentials = botocore.session.Session().get_credentials()
        if credentials is None:
            raise SystemExit("no AWS credentials found to sign requests to the deployed API")
        self._credentials = credentials
        self._region = region

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        from botocore.auth import SigV4Auth as BotoSigV4
        from botocore.awsrequest import AWSRequest

        aws_request = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=dict(request.headers)
        )
        BotoSigV4(self._credentials, "execute-api", self._region).add_auth(aws_request)
        request.headers.update(dict(aws_request.headers))
        yield request


class ApiClient:
    def __init__(self, base_url: str, *, region: str | None = None, timeout: float = 30.0) -> None:
        host = urlparse(base_url).hostname or ""
        auth = None if host in {"127.0.0.1", "localhost", "::1"} else SigV4Auth(region or _region_of(host))
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, auth=auth)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, {"error": {"code": "unreachable", "message": str(exc)}}) from exc
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body


def _region_of(host: str) -> str:
    parts = host.split(".")
    if "execute-api" in parts:
        return parts[parts.index("execute-api") + 1]
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


# ---- output ----------------------------------------------------------------------------------------------------


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for line in cells:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else 0
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


# ---- commands -------------------------------------------------------------------------------------------------


def _skill(value: str) -> dict[str, Any]:
    """SKILL_ID[:PROFICIENCY[:STATE[:REVERT_MINUTES]]]"""
    parts = value.split(":")
    override: dict[str, Any] = {"skillId": parts[0]}
    try:
        if len(parts) > 1 and parts[1]:
            override["proficiency"] = float(parts[1])
        if len(parts) > 2 and parts[2]:
            override["state"] = parts[2]
        if len(parts) > 3 and parts[3]:
            override["revertAfterMinutes"] = int(parts[3])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad --skill {value!r}: {exc}") from exc
    return override


def _change_fields(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, key in (("presence", "presence"), ("message", "message"), ("time_zone", "timeZone")):
        if getattr(args, name, None) is not None:
            body[key] = getattr(args, name)
    if getattr(args, "reason", None):
        body["reason"] = args.reason
    if getattr(args, "skill", None):
        body["skillOverrides"] = args.skill
    if getattr(args, "force", False):
        body["force"] = True
    if getattr(args, "dry_run", False):
        body["dryRun"] = True
    return body


def wait_for_change(api: ApiClient, change_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = api.request("GET", f"/presence-changes/{change_id}")
        if status["status"] in TERMINAL_STATUSES and status.get("outcome"):
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def cmd_apply(api: ApiClient, args: argparse.Namespace) -> int:
    body = {"userId": args.user_id, **_change_fields(args)}
    if args.if_match:
        body["ifMatch"] = args.if_match
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    started = api.request("POST", "/presence-changes", json=body, headers=headers)
    if args.no_wait:
        print_json(started) if args.json else print(f"started {started['changeId']}")
        return EXIT_OK
    return _show_change(wait_for_change(api, started["changeId"], args.timeout), args.json)


def _show_change(status: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print_json(status)
    else:
        details = status.get("details") or {}
        target = details.get("requestedPresence") or {}
        print_table(
            [
                {
                    "changeId": status["changeId"],
                    "status": status["status"],
                    "outcome": status.get("outcome"),
                    "presence": target.get("label"),
                    "conflictRetries": details.get("conflictRetries"),
                    "rateLimitWaits": details.get("rateLimitWaits"),
                    "latencyMs": details.get("latencyMs"),
                }
            ],
            ["changeId", "status", "outcome", "presence", "conflictRetries", "rateLimitWaits", "latencyMs"],
        )
        if details.get("reason"):
            print(f"reason: {details['reason']}")
    return EXIT_OUTCOME if status.get("outcome") in FAILED_OUTCOMES else EXIT_OK


def cmd_status(api: ApiClient, args: argparse.Namespace) -> int:
    return _show_change(api.request("GET", f"/presence-changes/{args.change_id}"), args.json)


BULK_TABLE_ROWS = 50


def cmd_bulk(api: ApiClient, args: argparse.Namespace) -> int:
    body: dict[str, Any] = _change_fields(args)
    if args.users:
        body["userIds"] = args.users
    else:
        body["managementUnitId"] = args.management_unit
    started = api.request("POST", "/bulk-changes", json=body)
    bulk_id = started["bulkId"]
    deadline = time.monotonic() + args.timeout
    interactive = not args.json and sys.stderr.isatty()
    while True:
        state = api.request("GET", f"/bulk-changes/{bulk_id}", params={"limit": "0"})  # counters only
        total = state.get("total") or 0
        if not args.json:
            line = f"\r{bulk_id} {state['status']:<9} {progress_bar(state['done'], total)}"
            print(line, end="" if interactive else "\n", file=sys.stderr, flush=True)
        finished = state["status"] in TERMINAL_STATUSES and state["total"] is not None and state["done"] >= total
        if finished or state["status"] in {"FAILED", "TIMED_OUT", "ABORTED"} or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    if interactive:
        print(file=sys.stderr)
    state["agents"] = bulk_agents(api, bulk_id)
    state.pop("nextToken", None)
    if args.json:
        print_json(state)
    else:
        shown = sorted(state["agents"], key=lambda a: a["outcome"] == "applied")[:BULK_TABLE_ROWS]
        print_table(shown, ["userId", "outcome", "latencyMs", "conflictRetries", "rateLimitWaits", "reason"])
        if len(state["agents"]) > len(shown):
            print(f"… {len(state['agents']) - len(shown)} more agents (--json lists every one)")
        print(f"outcomes: {state['outcomes']}")
    bad = state["status"] != "SUCCEEDED" or any(state["outcomes"].get(outcome) for outcome in FAILED_OUTCOMES)
    return EXIT_OUTCOME if bad else EXIT_OK


def bulk_agents(api: ApiClient, bulk_id: str) -> list[dict[str, Any]]:
    """Every agent of a bulk change with its outcome, page by page."""
    agents: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = {"limit": "100", **({"nextToken": token} if token else {})}
        page = api.request("GET", f"/bulk-changes/{bulk_id}", params=params)
        agents.extend(page["agents"])
        token = page.get("nextToken")
        if not token:
            return agents


def cmd_presence(api: ApiClient, args: argparse.Namespace) -> int:
    body = api.request("GET", f"/agents/{args.user_id}/presence")
    if args.json:
        print_json(body)
    else:
        print_table(
            [{**body["presence"], "userId": body["userId"]}],
            ["userId", "systemPresence", "message", "modifiedDate", "etag"],
        )
    return EXIT_OK


def cmd_audit(api: ApiClient, args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("from", args.since), ("to", args.until), ("limit", args.limit)) if v is not None}
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = api.request(
            "GET", f"/agents/{args.user_id}/audit", params={**params, **({"nextToken": token} if token else {})}
        )
        items.extend(page["items"])
        token = page.get("nextToken")
        if not token or not args.all or (args.limit and len(items) >= args.limit):
            break
    if args.json:
        print_json({"items": items, "nextToken": token})
    else:
        rows = [
            {
                **item,
                # ours: the presence asked for; an outside change (source external): the presence it set
                "presence": (item.get("requestedPresence") or {}).get("label")
                or (item.get("newPresence") or {}).get("systemPresence"),
            }
            for item in items
        ]
        columns = ["startedAt", "changeId", "source", "outcome", "presence", "latencyMs", "conflictRetries", "reason"]
        print_table(rows, columns)
    return EXIT_OK


def cmd_metrics(api: ApiClient, args: argparse.Namespace) -> int:
    body = api.request("GET", f"/agents/{args.user_id}/metrics")
    if args.json:
        print_json(body)
    else:
        columns = ["userId", "totalUpdates", "averageLatencyMs", "conflictRate", "rateLimitWaits", "outcomes"]
        print_table([body], [*columns, "externalEdits"])
    return EXIT_OK


def cmd_timeline(api: ApiClient, args: argparse.Namespace) -> int:
    from presence_manager_local.timeline_view import render_timeline

    params = {k: v for k, v in (("date", args.date), ("timeZone", args.time_zone)) if v is not None}
    body = api.request("GET", f"/agents/{args.user_id}/timeline", params=params)
    if args.json:
        print_json(body)
    else:
        print("\n".join(render_timeline(body)))
    return EXIT_OK


def _automation_fields() -> tuple[str, ...]:
    """The configuration's JSON names, from the model itself (a PUT replaces the whole configuration)."""
    from presence_manager.automation import AutomationConfig

    return tuple(field.alias or name for name, field in AutomationConfig.model_fields.items())


def _mapping_entry(value: str) -> tuple[str, str]:
    """CATEGORY=PRESENCE"""
    category, sep, presence = value.partition("=")
    if not sep or not category or not presence:
        raise argparse.ArgumentTypeError(f"bad --map {value!r}: use CATEGORY=PRESENCE, e.g. Break=Break")
    return category, presence


def cmd_automation(api: ApiClient, args: argparse.Namespace) -> int:
    path = f"/management-units/{args.management_unit_id}/automation"
    if args.action == "show":
        _show_automation(api.request("GET", path), args.json)
        return EXIT_OK
    if args.action == "plan":
        plan = api.request("POST", f"{path}/plan")
        _show_plan(plan, args.json)
        return EXIT_OUTCOME if plan["status"] == "processing" else EXIT_OK
    current = api.request("GET", path)
    config = {field: current[field] for field in _automation_fields() if field in current}
    config["enabled"] = args.action == "enable"
    if args.lead_minutes is not None:
        config["leadMinutes"] = args.lead_minutes
    if args.dry_run is not None:
        config["dryRun"] = args.dry_run
    if args.respect_own_changes is not None:
        config["respectOwnChangesMinutes"] = args.respect_own_changes
    if args.window_hours is not None:
        config["windowHours"] = args.window_hours
    if args.schedule_group is not None:
        config["businessHoursScheduleGroupId"] = args.schedule_group or None
    if args.map:
        config["mapping"] = {**config.get("mapping", {}), **dict(args.map)}
    stored = api.request("PUT", path, json=config)
    plan = api.request("POST", f"{path}/plan") if config["enabled"] else None
    if args.json:
        print_json({"automation": stored, "plan": plan})
        return EXIT_OK
    _show_automation(stored, False)
    if plan is not None:
        print()
        _show_plan(plan, False)
    elif stored.get("schedulesRemoved") is not None:
        print(f"removed {stored['schedulesRemoved']} planned schedules")
    return EXIT_OK


def _show_automation(config: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(config)
        return
    state = "enabled" if config["enabled"] else "disabled"
    defaults = "" if config.get("stored", True) else " (defaults)"
    print(f"management unit {config['managementUnitId']}: automation {state}{defaults}")
    print_table(
        [config], ["leadMinutes", "dryRun", "respectOwnChangesMinutes", "windowHours", "updatedAt", "updatedBy"]
    )
    mapping = config.get("mapping") or {}
    print("mapping: " + (", ".join(f"{k} -> {v}" for k, v in sorted(mapping.items())) or "-"), end="")
    print(" (other categories: the activity code's first secondary presence)")
    last = config.get("lastPlan")
    if last:
        print(f"last plan: {json.dumps(last, default=str)}")


def _show_plan(plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    what = {"planned": "planned", "preview": "preview (automation is off: no schedule made)"}.get(
        plan["status"], plan["status"]
    )
    print(
        f"management unit {plan['managementUnitId']}: {what}; window {plan['windowStart']} - {plan['windowEnd']}, "
        f"lead {plan['leadMinutes']} min{', dry run' if plan['dryRun'] else ''}"
    )
    if plan.get("message"):
        print(plan["message"])
    if plan["instants"]:
        print_table(plan["instants"], ["at", "presence", "category", "agents"])
    else:
        print("no upcoming instants")
    total = sum(instant["agents"] for instant in plan["instants"])
    changes = ", ".join(f"{k} {v}" for k, v in plan["schedules"].items())
    print(f"{len(plan['instants'])} instants moving {total} agents; schedules: {changes}")
    if plan.get("skipped"):
        print("skipped: " + ", ".join(f"{k} {v}" for k, v in plan["skipped"].items()))


def cmd_sim(args: argparse.Namespace) -> int:
    from presence_manager_local.simulator.server import serve_forever

    serve_forever(port=args.port, fixture=args.fixture, rate_limit=args.rate_limit, agents=args.agents)
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    from presence_manager_local.runtime import serve

    serve(api_port=args.api_port, sim_port=args.sim_port, moto_port=args.moto_port)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from presence_manager_local.demo import run_demo

    return run_demo()


# ---- parser ---------------------------------------------------------------------------------------------------


def _add_change_options(parser: argparse.ArgumentParser, *, presence_required: bool) -> None:
    parser.add_argument("--presence", required=presence_required, help="presence name or definition id")
    parser.add_argument("--message", help="custom status message")
    parser.add_argument(
        "--skill",
        action="append",
        type=_skill,
        metavar="ID[:PROFICIENCY[:STATE[:REVERT_MINUTES]]]",
        help="routing-skill override (repeatable)",
    )
    parser.add_argument("--time-zone", help="IANA time zone for the policy (default: the agent's business unit)")
    parser.add_argument("--reason", help="why (kept in the audit trail)")
    parser.add_argument("--force", action="store_true", help="take an agent off queue even during an interaction")
    parser.add_argument("--dry-run", action="store_true", help="validate only")


def _add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``--api``, ``--region`` and ``--json``: on the main parser with their defaults, and on every API command with
    ``SUPPRESS`` defaults, so they work before or after the command (``presence-manager audit USER_ID --json``)
    and one given before the command is not reset by the command's parser."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    api_default = os.environ.get("PRESENCE_MANAGER_API") or DEFAULT_API
    parser.add_argument("--api", default=default(api_default), help=f"API base URL (default: {api_default})")
    parser.add_argument(
        "--region", default=default(None), help="AWS region for SigV4 signing (default: from the API URL)"
    )
    parser.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="presence-manager", description=__doc__.split("\n\n")[0])
    _add_global_options(parser, defaults=True)
    global_options = argparse.ArgumentParser(add_help=False)
    _add_global_options(global_options, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)

    def api_command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[global_options])

    apply = api_command("apply", "change one agent's presence (and skills), wait for the outcome")
    apply.add_argument("user_id")
    _add_change_options(apply, presence_required=False)
    apply.add_argument("--if-match", help="the ETag read with `presence`; the change fails if it moved on")
    apply.add_argument("--idempotency-key")
    apply.add_argument("--no-wait", action="store_true")
    apply.add_argument("--timeout", type=float, default=300)
    apply.set_defaults(func=cmd_apply)

    bulk = api_command("bulk", "change many agents, with a progress bar")
    population = bulk.add_mutually_exclusive_group(required=True)
    population.add_argument("--users", nargs="+", metavar="ID")
    population.add_argument("--management-unit", metavar="ID")
    _add_change_options(bulk, presence_required=True)
    bulk.add_argument("--timeout", type=float, default=900)
    bulk.set_defaults(func=cmd_bulk)

    status = api_command("status", "a change's status and outcome")
    status.add_argument("change_id")
    status.set_defaults(func=cmd_status)

    presence = api_command("presence", "an agent's live presence and its ETag")
    presence.add_argument("user_id")
    presence.set_defaults(func=cmd_presence)

    audit = api_command("audit", "an agent's audit trail, newest first")
    audit.add_argument("user_id")
    audit.add_argument("--from", dest="since", help="ISO-8601 instant")
    audit.add_argument("--to", dest="until", help="ISO-8601 instant")
    audit.add_argument("--limit", type=int)
    audit.add_argument("--all", action="store_true", help="follow nextToken to the end")
    audit.set_defaults(func=cmd_audit)

    metrics = api_command("metrics", "an agent's average latency, conflict rate and outcome counts")
    metrics.add_argument("user_id")
    metrics.set_defaults(func=cmd_metrics)

    timeline = api_command("timeline", "one agent's day: schedule, presence, our and outside changes")
    timeline.add_argument("user_id")
    timeline.add_argument("--date", help="YYYY-MM-DD, the agent's local date (default: today there)")
    timeline.add_argument("--time-zone", help="IANA time zone of the day (default: the agent's business unit)")
    timeline.set_defaults(func=cmd_timeline)

    automation = api_command(
        "automation", "presence that follows the WFM schedule: show, enable, disable or plan a management unit"
    )
    automation.add_argument("action", choices=["show", "enable", "disable", "plan"])
    automation.add_argument("management_unit_id", metavar="MU_ID")
    automation.add_argument("--lead-minutes", type=int, help="enable/disable: move agents N minutes early (0-60)")
    automation.add_argument(
        "--map",
        action="append",
        type=_mapping_entry,
        metavar="CATEGORY=PRESENCE",
        help="enable/disable: activity category -> presence (repeatable; e.g. Break=Break)",
    )
    automation.add_argument(
        "--dry-run", action=argparse.BooleanOptionalAction, default=None, help="enable/disable: only validate"
    )
    automation.add_argument("--respect-own-changes", type=int, metavar="MINUTES", help="enable/disable (0-240)")
    automation.add_argument("--window-hours", type=int, help="enable/disable: how far ahead to plan (1-48)")
    automation.add_argument(
        "--schedule-group",
        help="enable/disable: the Architect schedule group whose hours are the unit's business hours ('' = none)",
    )
    automation.set_defaults(func=cmd_automation)

    sim = sub.add_parser("sim", help="run the Genesys Cloud simulator")
    sim.add_argument("--port", type=int, default=8787)
    sim.add_argument("--fixture", help="org fixture JSON (default: the bundled org)")
    sim.add_argument("--rate-limit", type=int, default=300, help="requests per minute per token")
    sim.add_argument(
        "--agents",
        type=int,
        help="serve a generated org of N agents over several management and business units (default: the fixture)",
    )
    sim.set_defaults(local=cmd_sim)

    up = sub.add_parser("up", help="run the whole stack locally (simulator, AWS emulation, API)")
    up.add_argument("--api-port", type=int, default=3000)
    up.add_argument("--sim-port", type=int, default=8787)
    up.add_argument("--moto-port", type=int, default=5000)
    up.set_defaults(local=cmd_up)

    demo = sub.add_parser("demo", help="start the local stack and run the scripted scenarios")
    demo.set_defaults(local=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "local", None):
        return args.local(args)
    try:
        return args.func(ApiClient(args.api, region=args.region), args)
    except ApiError as exc:
        print(f"error: {json.dumps(exc.body) if exc.body else exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
