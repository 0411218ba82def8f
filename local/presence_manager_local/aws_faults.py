"""AWS-side fault injection for the local runtime's in-process Lambda handlers.

Two kinds, both counted and removable, both scoped to one agent so that cases running side by side never see each
other's faults:

- **botocore faults** on the clients the handlers use (``presence_manager.dependencies.aws_client(service)`` and
  ``dependencies.dynamodb().meta.client``): a ``before-call`` hook that raises the service's own error (DynamoDB
  ``ProvisionedThroughputExceededException`` / ``ThrottlingException``, …) before the request is sent, or that
  marks the call so an ``after-call`` hook rewrites its parsed answer (EventBridge ``PutEvents`` with
  ``FailedEntryCount: 1``). A hook matches on the request body (table, key, the agent's id).
- **step faults** on the Lambda dispatcher (``runtime._dispatcher.handlers``): run an action before or after a
  step for an agent (an agent editing their presence between Validate and LockedUpdate, a routing status turning
  INTERACTING during a Retry-After wait), or deliver one invocation twice (the handler runs twice with the same
  input; the second result is returned), as Lambda's at-least-once delivery may.

    faults = AwsFaults(runtime).install()
    throttle = faults.throttle_audit_record(user_id, times=1)
    ...
    assert throttle.applied == 1
    faults.uninstall()
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException"})
Match = Callable[[str, dict[str, Any]], bool]
Rewrite = Callable[[dict[str, Any], dict[str, Any]], None]
StepAction = Callable[[dict[str, Any]], None]


@dataclass
class Injection:
    """One botocore fault: ``times`` uses (None: every matching call), counted in ``applied``."""

    service: str
    operations: frozenset[str]
    match: Match
    kind: Literal["raise", "rewrite"]
    code: str = "ProvisionedThroughputExceededException"
    message: str = "injected by the fault matrix"
    rewrite: Rewrite | None = None
    times: int | None = 1
    applied: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _owner: AwsFaults | None = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


class LambdaTimedOut(Exception):
    """What the local runtime answers as ``Sandbox.Timedout`` (a step fault: the handler's work done, its answer
    lost, as when Lambda stops an invocation that ran out of time)."""

    lambda_error_type = "Sandbox.Timedout"


@dataclass
class StepHook:
    """One step fault on the Lambda dispatcher, for the invocations whose input names ``user_id``."""

    function: str
    user_id: str
    kind: Literal["before", "after", "duplicate", "timeout"]
    action: StepAction | None = None
    times: int | None = 1
    applied: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _owner: AwsFaults | None = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


def request_body(params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a botocore request dict (DynamoDB and EventBridge speak JSON)."""
    body = params.get("body") or b"{}"
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    try:
        parsed = json.loads(body) if isinstance(body, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def dynamodb_actions(operation: str, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """(table, item or key, action, request part) of every write: action is Put, Update or Delete."""
    single = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}
    if operation in single:
        yield body.get("TableName", ""), body.get("Item") or body.get("Key") or {}, single[operation], body
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems") or []:
            for action in ("Put", "Update", "Delete"):
                if action in entry:
                    part = entry[action]
                    yield part.get("TableName", ""), part.get("Item") or part.get("Key") or {}, action, part
    elif operation == "BatchWriteItem":
        for table, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    yield table, request["PutRequest"].get("Item") or {}, "Put", request["PutRequest"]
                elif "DeleteRequest" in request:
                    yield table, request["DeleteRequest"].get("Key") or {}, "Delete", request["DeleteRequest"]


def dynamodb_writes(operation: str, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, item or key) of every write a DynamoDB request makes, whatever the operation."""
    for table, item, _, _ in dynamodb_actions(operation, body):
        yield table, item


def update_clauses(part: dict[str, Any]) -> dict[str, set[str]]:
    """An UpdateExpression's attribute names by clause (SET, REMOVE, ADD, DELETE), ``#name``s resolved."""
    names = part.get("ExpressionAttributeNames") or {}
    clauses: dict[str, set[str]] = {}
    pieces = re.split(r"\b(SET|REMOVE|ADD|DELETE)\b", part.get("UpdateExpression") or "", flags=re.IGNORECASE)
    for keyword, text in zip(pieces[1::2], pieces[2::2], strict=False):
        attributes = set()
        for assignment in text.split(","):
            token = re.split(r"[\s=]", assignment.strip(), maxsplit=1)[0]
            if token:
                attributes.add(names.get(token, token))
        clauses.setdefault(keyword.upper(), set()).update(attributes)
    return clauses


def lease_step(action: str, part: dict[str, Any]) -> str | None:
    """Whether a write of a lease item takes it (``acquire``), gives it back (``release``), or neither."""
    if action == "Delete":
        return "release"
    if action == "Put":
        return "acquire" if "owner" in (part.get("Item") or {}) else None
    clauses = update_clauses(part)
    if "owner" in clauses.get("REMOVE", set()):
        return "release"
    if "owner" in clauses.get("SET", set()):
        return "acquire"
    return None


def _string(attribute: Any) -> str | None:
    return attribute.get("S") if isinstance(attribute, dict) else None


def mentions_user(value: Any, user_id: str) -> bool:
    """Whether a step's input carries ``"userId": user_id`` anywhere (robust to how the state is shaped)."""
    if isinstance(value, dict):
        if value.get("userId") == user_id:
            return True
        return any(mentions_user(v, user_id) for v in value.values())
    if isinstance(value, list):
        return any(mentions_user(v, user_id) for v in value)
    return False


class AwsFaults:
    """Fault injection on the AWS side of a running :class:`~presence_manager_local.emulation.LocalRuntime`."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._injections: list[Injection] = []
        self._hooks: list[StepHook] = []
        self._registered: dict[int, Any] = {}  # id(client) -> client (kept alive so ids stay unique)
        self._wrapped: dict[str, tuple[Any, Any]] = {}  # function name -> (original, wrapper)
        self._installed = False

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def install(self) -> AwsFaults:
        with self._lock:
            if self._installed:
                return self
            self._installed = True
        self._register_clients()
        self._wrap_handlers()
        return self

    def uninstall(self) -> None:
        with self._lock:
            self._injections.clear()
            self._hooks.clear()
            self._installed = False
            clients, self._registered = list(self._registered.values()), {}
            wrapped, self._wrapped = dict(self._wrapped), {}
        for client in clients:
            service = client.meta.service_model.service_id.hyphenize()
            client.meta.events.unregister(f"before-call.{service}", unique_id=self._unique("before"))
            client.meta.events.unregister(f"after-call.{service}", unique_id=self._unique("after"))
        handlers = self._handlers()
        for name, (original, wrapper) in wrapped.items():
            if handlers.get(name) is wrapper:
                handlers[name] = original

    def __enter__(self) -> AwsFaults:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def clear(self) -> None:
        with self._lock:
            self._injections.clear()
            self._hooks.clear()

    def remove(self, fault: Injection | StepHook) -> None:
        with self._lock:
            if isinstance(fault, Injection):
                self._injections = [i for i in self._injections if i is not fault]
            else:
                self._hooks = [h for h in self._hooks if h is not fault]

    # ---- botocore faults ------------------------------------------------------------------------------------

    def fail(
        self,
        service: str,
        operations: str | set[str] | frozenset[str],
        *,
        match: Match,
        code: str = "ProvisionedThroughputExceededException",
        times: int | None = 1,
        message: str = "injected by the fault matrix",
    ) -> Injection:
        """The next ``times`` matching calls raise the service's ``code`` error before anything is sent."""
        return self._add(
            Injection(
                service=service,
                operations=frozenset({operations} if isinstance(operations, str) else operations),
                match=match,
                kind="raise",
                code=code,
                message=message,
                times=times,
            )
        )

    def rewrite(
        self,
        service: str,
        operations: str | set[str] | frozenset[str],
        *,
        match: Match,
        rewrite: Rewrite,
        times: int | None = 1,
    ) -> Injection:
        """The next ``times`` matching calls are sent, and their parsed answer is rewritten by ``rewrite(parsed,
        body)`` before the caller sees it."""
        return self._add(
            Injection(
                service=service,
                operations=frozenset({operations} if isinstance(operations, str) else operations),
                match=match,
                kind="rewrite",
                rewrite=rewrite,
                times=times,
            )
        )

    def throttle_audit_record(
        self, user_id: str, *, times: int | None = 1, code: str = "ProvisionedThroughputExceededException"
    ) -> Injection:
        """Writes of the agent's audit record (whatever the operation) are throttled."""
        table = self._runtime.table_name("AuditTable")

        def match(operation: str, body: dict[str, Any]) -> bool:
            return any(
                name == table and _string(item.get("userId")) == user_id
                for name, item in dynamodb_writes(operation, body)
            )

        return self.fail("dynamodb", WRITE_OPERATIONS, match=match, code=code, times=times)

    def throttle_lease(
        self,
        user_id: str,
        *,
        step: Literal["acquire", "release"] = "acquire",
        times: int | None = 1,
        code: str = "ProvisionedThroughputExceededException",
    ) -> Injection:
        """Writes of the agent's lease item (``LEASE#<userId>`` in the agent table) are throttled: taking it
        (a put, or an update that SETs its ``owner``) or releasing it (a delete, or an update that REMOVEs
        ``owner``), whatever operation carries the write."""
        from presence_manager.lease import LEASE_KEY_PREFIX

        table, key = self._runtime.table_name("AgentTable"), f"{LEASE_KEY_PREFIX}{user_id}"

        def match(operation: str, body: dict[str, Any]) -> bool:
            return any(
                name == table and _string(item.get("pk")) == key and lease_step(action, part) == step
                for name, item, action, part in dynamodb_actions(operation, body)
            )

        return self.fail("dynamodb", WRITE_OPERATIONS, match=match, code=code, times=times)

    def fail_put_events(self, user_id: str, *, times: int | None = 1) -> Injection:
        """PutEvents of the agent's events answers ``FailedEntryCount: 1`` (the entry marked InternalFailure)."""

        def match(operation: str, body: dict[str, Any]) -> bool:
            for entry in body.get("Entries") or []:
                try:
                    detail = json.loads(entry.get("Detail") or "{}")
                except ValueError:
                    continue
                if isinstance(detail, dict) and detail.get("userId") == user_id:
                    return True
            return False

        def rewrite(parsed: dict[str, Any], body: dict[str, Any]) -> None:
            entries = body.get("Entries") or [{}]
            parsed["FailedEntryCount"] = len(entries)
            parsed["Entries"] = [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "injected by the fault matrix"} for _ in entries
            ]

        return self.rewrite("eventbridge", "PutEvents", match=match, rewrite=rewrite, times=times)

    def _add(self, injection: Injection) -> Injection:
        injection._owner = self
        self._register_clients()
        with self._lock:
            self._injections.append(injection)
        return injection

    def _take(self, service: str, operation: str, body: dict[str, Any]) -> Injection | None:
        with self._lock:
            for injection in self._injections:
                if injection.service != service or operation not in injection.operations:
                    continue
                if injection.times is not None and injection.applied >= injection.times:
                    continue
                try:
                    matched = injection.match(operation, body)
                except Exception:  # a predicate that cannot read this body does not match it
                    matched = False
                if matched:
                    injection.applied += 1
                    return injection
        return None

    def _clients(self) -> list[Any]:
        from presence_manager import dependencies as deps

        return [deps.dynamodb().meta.client, deps.aws_client("dynamodb"), deps.aws_client("events")]

    def _register_clients(self) -> None:
        """Hook every client the handlers use now (a cache reset makes new clients: they are hooked on the next
        injection)."""
        for client in self._clients():
            with self._lock:
                if not self._installed or id(client) in self._registered:
                    continue
                self._registered[id(client)] = client
            service = client.meta.service_model.service_id.hyphenize()

            def before_call(*, _client: Any = client, **kwargs: Any) -> None:
                self._before_call(_client, **kwargs)

            client.meta.events.register(f"before-call.{service}", before_call, unique_id=self._unique("before"))
            client.meta.events.register(f"after-call.{service}", self._after_call, unique_id=self._unique("after"))

    def _unique(self, stage: str) -> str:
        return f"fault-matrix-{stage}-{id(self)}"

    def _before_call(
        self, client: Any, *, event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        _, service, operation = event_name.split(".", 2)
        body = request_body(params)
        injection = self._take(service, operation, body)
        if injection is None:
            return None
        if injection.kind == "rewrite":
            context["fault_matrix_rewrite"] = (injection, body)
            return None
        error_class = client.exceptions.from_code(injection.code)
        raise error_class(
            {
                "Error": {"Code": injection.code, "Message": injection.message},
                "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": f"fault-{injection.id}"},
            },
            operation,
        )

    def _after_call(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        marked = context.pop("fault_matrix_rewrite", None)
        if marked is not None:
            injection, body = marked
            if injection.rewrite is not None and isinstance(parsed, dict):
                injection.rewrite(parsed, body)

    # ---- step faults ----------------------------------------------------------------------------------------

    def before_step(self, function: str, user_id: str, action: StepAction, *, times: int | None = 1) -> StepHook:
        """Run ``action(event)`` right before the next ``times`` invocations of ``function`` for the agent."""
        return self._hook(StepHook(self._function(function), user_id, "before", action, times))

    def after_step(self, function: str, user_id: str, action: StepAction, *, times: int | None = 1) -> StepHook:
        """Run ``action(event)`` right after the next ``times`` invocations of ``function`` for the agent
        (whether the handler returned or raised)."""
        return self._hook(StepHook(self._function(function), user_id, "after", action, times))

    def duplicate_delivery(self, function: str, user_id: str, *, times: int | None = 1) -> StepHook:
        """The next ``times`` invocations of ``function`` for the agent are delivered twice: the handler runs
        twice with the same input and the second result (or error) is what the state machine gets."""
        return self._hook(StepHook(self._function(function), user_id, "duplicate", None, times))

    def time_out_after(self, function: str, user_id: str, *, times: int | None = 1) -> StepHook:
        """The next ``times`` invocations of ``function`` for the agent run to the end (their writes happen) and are
        then answered as Lambda answers an invocation that ran out of time: ``Sandbox.Timedout``, the result lost."""
        return self._hook(StepHook(self._function(function), user_id, "timeout", None, times))

    def _function(self, function: str) -> str:
        """A logical id from template.yaml (``LockedUpdateFunction``) or a physical function name."""
        template = self._runtime.template
        if template is not None and function in template.physical:
            return str(template.physical[function]["Ref"])
        return function

    def _hook(self, hook: StepHook) -> StepHook:
        hook._owner = self
        self._wrap_handlers()
        if hook.function not in self._handlers():
            raise KeyError(f"no Lambda handler {hook.function!r} in the local runtime")
        with self._lock:
            self._hooks.append(hook)
        return hook

    def _take_hooks(self, function: str, event: Any) -> list[StepHook]:
        with self._lock:
            taken = []
            for hook in self._hooks:
                if hook.function != function or (hook.times is not None and hook.applied >= hook.times):
                    continue
                if mentions_user(event, hook.user_id):
                    hook.applied += 1
                    taken.append(hook)
            return taken

    def _handlers(self) -> dict[str, Any]:
        dispatcher = getattr(self._runtime, "_dispatcher", None)
        if dispatcher is None:
            raise RuntimeError("the local runtime is not running")
        handlers: dict[str, Any] = dispatcher.handlers
        return handlers

    def _wrap_handlers(self) -> None:
        handlers = self._handlers()
        for name, original in list(handlers.items()):
            with self._lock:
                if not self._installed or name in self._wrapped:
                    continue
                wrapper = self._interceptor(name, original)
                self._wrapped[name] = (original, wrapper)
            handlers[name] = wrapper

    def _interceptor(self, name: str, original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def intercepted(event: Any, context: Any) -> Any:
            hooks = self._take_hooks(name, event)
            if not hooks:
                return original(event, context)
            for hook in hooks:
                if hook.kind == "before" and hook.action is not None:
                    hook.action(event)
            try:
                if any(hook.kind == "duplicate" for hook in hooks):
                    with contextlib.suppress(Exception):  # the first delivery: its answer is lost, whatever it was
                        original(json.loads(json.dumps(event)), context)
                answer = original(event, context)
                if any(hook.kind == "timeout" for hook in hooks):
                    raise LambdaTimedOut("Task timed out (a step fault: the work was done, the answer is lost)")
                return answer
            finally:
                for hook in hooks:
                    if hook.kind == "after" and hook.action is not None:
                        hook.action(event)

        intercepted.__wrapped__ = original  # type: ignore[attr-defined]
        return intercepted
