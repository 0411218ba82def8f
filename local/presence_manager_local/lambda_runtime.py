"""In-process Lambda for the local stack: moto's no-Docker Lambda invoke dispatched to our handlers, with
Lambda's error contract, timeouts and captured output."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from presence_manager_local.local_template import ACCOUNT, REGION, ROOT, TEMPLATE, Handler, ResolvedTemplate

# ---- in-process Lambda ---------------------------------------------------------------------------------------


#: Lambda's own default when a function sets no Timeout (and the template's Globals none either).
DEFAULT_TIMEOUT_SECONDS = 3
TIMED_OUT = "Sandbox.Timedout"


def function_timeout(template: ResolvedTemplate, logical: str) -> int:
    """The function's ``Timeout`` from template.yaml: its own, else the Globals one, else Lambda's default."""
    from cfnlint.decode import cfn_yaml

    globals_function = (cfn_yaml.load(str(TEMPLATE)).get("Globals") or {}).get("Function") or {}
    properties = template.resources[logical].get("Properties", {})
    return int(template.resolve(properties.get("Timeout", globals_function.get("Timeout", DEFAULT_TIMEOUT_SECONDS))))


class LambdaContext:
    def __init__(self, function_name: str, timeout_seconds: float = 30) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class CapturedOutput(io.TextIOBase):
    """``sys.stdout`` while the runtime runs: what a handler prints (logs, EMF) goes to the runtime's log file and
    EMF list; everything else passes through."""

    def __init__(self, passthrough: Any, log_path: Path) -> None:
        self._passthrough = passthrough
        self._local = threading.local()
        self._lock = threading.Lock()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self.emf: list[dict[str, Any]] = []

    def capturing(self) -> Any:
        runtime = self

        class _Scope:
            def __enter__(self) -> None:
                runtime._local.active = True
                if sys.stdout is not runtime:  # someone (a test runner's capture) swapped it: wrap theirs
                    runtime._passthrough, sys.stdout = sys.stdout, runtime

            def __exit__(self, *exc: object) -> None:
                runtime._local.active = False

        return _Scope()

    def write(self, text: str) -> int:
        if not getattr(self._local, "active", False):
            return self._passthrough.write(text)
        with self._lock:
            self._log.write(text)
            for line in text.splitlines():
                if line.startswith("{") and '"_aws"' in line:
                    with contextlib.suppress(ValueError):
                        self.emf.append(json.loads(line))
        return len(text)

    def flush(self) -> None:
        self._passthrough.flush()
        with self._lock:
            self._log.flush()

    def close_log(self) -> None:
        with self._lock:
            self._log.close()


class LambdaDispatcher:
    """Replaces moto's no-Docker Lambda ``invoke`` with a call of our handler, returning what the Python Lambda
    runtime returns: the JSON result, or ``{"errorType", "errorMessage", "stackTrace"}`` with X-Amz-Function-Error.

    Each invocation runs under the function's configured ``Timeout`` (from template.yaml, as created in moto): the
    handler runs in a worker thread, the context's remaining time counts down to the deadline, and past it the
    answer is Lambda's for a timed-out invocation - ``Sandbox.Timedout``, "Task timed out after N.00 seconds" -
    which Step Functions sees as the error ``Sandbox.Timedout``.

    A Python thread cannot be killed: a timed-out handler keeps running in the background and its side effects
    (a Genesys write, a DynamoDB update) may still happen after the caller was told it timed out. Lambda is no
    different - the invocation's sandbox is frozen, not rolled back, and a request it had sent can still land -
    so the workflow has to treat a timed-out step as a write that may or may not have happened."""

    def __init__(self, output: CapturedOutput) -> None:
        self.handlers: dict[str, Handler] = {}
        self.invocations: list[dict[str, Any]] = []
        self._output = output
        self._original: Any = None

    def install(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        dispatcher = self
        self._original = LambdaSimpleBackend.invoke

        def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any):  # type: ignore[no-untyped-def]
            timeout = backend.get_function(function_name, qualifier).timeout  # the function's configuration
            return dispatcher.invoke(function_name.split(":")[-1], body, response_headers, timeout_seconds=timeout)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            from moto.awslambda_simple.models import LambdaSimpleBackend

            LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]

    def invoke(
        self,
        function_name: str,
        body: Any,
        response_headers: dict[str, str],
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> bytes:
        event = json.loads(body) if body else {}
        started = time.perf_counter()
        context = LambdaContext(function_name, timeout_seconds)
        answer: dict[str, Any] = {}

        def run() -> None:
            with self._output.capturing():
                try:
                    answer["payload"] = json.dumps(self.handlers[function_name](event, context), default=str)
                except BaseException as exc:  # what the runtime reports for any escape from the handler
                    answer["error"] = exc

        worker = threading.Thread(target=run, name=f"lambda:{function_name}:{context.aws_request_id}", daemon=True)
        worker.start()
        worker.join(timeout_seconds)
        error_type = None
        if worker.is_alive():  # left running: see the class docstring
            error_type = TIMED_OUT
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(
                {"errorType": TIMED_OUT, "errorMessage": f"Task timed out after {timeout_seconds:.2f} seconds"}
            )
        elif "error" in answer:
            exc = answer["error"]
            # A fault injection may stand for an error of the runtime itself (``Sandbox.Timedout``).
            error_type = str(getattr(exc, "lambda_error_type", type(exc).__name__))
            response_headers["x-amz-function-error"] = "Unhandled"
            trace = traceback.format_tb(exc.__traceback__)
            payload = json.dumps({"errorType": error_type, "errorMessage": str(exc), "stackTrace": trace})
        else:
            payload = answer["payload"]
        self.invocations.append(
            {
                "function": function_name,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "errorType": error_type,
                # The state a step is given and returns: what Step Functions caps at 256 KiB.
                "inputBytes": len(body) if body else 0,
                "outputBytes": len(payload.encode()),
            }
        )
        return payload.encode()


def load_handler(code_uri: str, handler: str, unique: str) -> Handler:
    module_file, function = handler.rsplit(".", 1)
    path = ROOT / code_uri / f"{module_file}.py"
    spec = importlib.util.spec_from_file_location(f"lambda_{unique}_{module_file}", path)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, function)
