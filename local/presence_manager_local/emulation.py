"""The local runtime: the Genesys Cloud simulator, moto in server mode executing *our* ASL, in-process Lambda
dispatch and an API Gateway emulator, all on loopback, with every resource created from template.yaml itself.

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)   # 0 = a free port
        ...runtime.api_url, runtime.sim_url, runtime.boto3_client("stepfunctions")
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "gpm-local"
SIM_CLIENT_ID, SIM_CLIENT_SECRET = "sim-client-id", "sim-client-secret"
LOCAL_PARAMETERS = {
    "GenesysCredentialsSecretId": "genesys-presence-manager/local",
    "ConflictBackoffMinSeconds": "0",
    "ConflictBackoffMaxSeconds": "2",
    "TransientRetryIntervalSeconds": "1",
    "BulkMaxConcurrency": "4",
    "AmbiguousWriteSettleSeconds": "6",
    # The Genesys EventBridge integration's partner event source, named after the simulator's org
    # (simulator/data/org.json): the local stack creates the bus and the rule, and the simulator puts its events there.
    "GenesysEventSourceName": (
        "aws.partner/genesys.com/cloud/a34ce679-0816-4e16-9f16-a8955b68466d/presence-manager-local"
    ),
}
Handler = Callable[[dict[str, Any], Any], Any]


# ---- template.yaml ---------------------------------------------------------------------------------------------


def business_hours_around_now(zone: str = "America/New_York", now: datetime | None = None) -> dict[str, str]:
    """A 12-hour business window that contains *now* in ``zone``, so local runs pass at any hour."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    start = (local.hour - 4) % 24
    return {"BusinessHoursStart": f"{start:02d}:00", "BusinessHoursEnd": f"{(start + 12) % 24:02d}:00"}


def local_business_hours(simulator: Any | None) -> dict[str, str]:
    """The local stack's business hours: with the simulator, its Architect schedule group of the default business
    unit (``BusinessHoursScheduleGroupId``; every simulator reset builds it around now, so a run at any hour passes);
    against a real org, the window shifted around now (the fallback for deployments without a group)."""
    if simulator is None:
        return business_hours_around_now()
    state = simulator.state
    return {"BusinessHoursScheduleGroupId": state.schedule_group_for_business_unit(next(iter(state.business_units)))}


@dataclass
class ResolvedTemplate:
    """What the local stack needs from template.yaml, intrinsics resolved against local physical names."""

    parameters: dict[str, str]
    resources: dict[str, Any]
    physical: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, overrides: dict[str, str] | None = None, path: Path = TEMPLATE) -> ResolvedTemplate:
        from cfnlint.decode import cfn_yaml

        document = cfn_yaml.load(str(path))
        parameters = {name: str(spec.get("Default", "")) for name, spec in document["Parameters"].items()}
        parameters.update(overrides or {})
        template = cls(parameters=parameters, resources=dict(document["Resources"]))
        template.physical = {logical: template._physical(logical, spec) for logical, spec in template.resources.items()}
        return template

    def _physical(self, logical: str, spec: dict[str, Any]) -> dict[str, str]:
        kind, properties = spec["Type"], spec.get("Properties", {})
        pseudo = f"arn:aws:{{service}}:{REGION}:{ACCOUNT}:{{resource}}"
        if kind == "AWS::DynamoDB::Table":
            name = f"{STACK}-{logical}"
            return {"Ref": name, "Arn": pseudo.format(service="dynamodb", resource=f"table/{name}")}
        if kind == "AWS::Serverless::Function":
            name = f"{STACK}-{logical}"
            return {"Ref": name, "Arn": pseudo.format(service="lambda", resource=f"function:{name}")}
        if kind == "AWS::Serverless::StateMachine":
            name = self.resolve(properties.get("Name", f"{STACK}-{logical}"))
            arn = pseudo.format(service="states", resource=f"stateMachine:{name}")
            return {"Ref": arn, "Arn": arn, "Name": name}
        if kind in {"AWS::Events::EventBus", "AWS::Scheduler::ScheduleGroup"}:
            name = self.resolve(properties["Name"])
            return {"Ref": name, "Arn": pseudo.format(service="events", resource=f"event-bus/{name}"), "Name": name}
        if kind == "AWS::Events::Rule":
            name = f"{STACK}-{logical}"
            return {"Ref": name, "Arn": pseudo.format(service="events", resource=f"rule/{name}"), "Name": name}
        if kind == "AWS::SQS::Queue":
            name = f"{STACK}-{logical}"
            return {
                "Ref": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
                "Arn": pseudo.format(service="sqs", resource=name),
                "QueueName": name,
            }
        if kind == "AWS::S3::Bucket":
            name = f"{STACK}-{logical}".lower()
            return {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}
        if kind == "AWS::IAM::Role":
            name = f"{STACK}-{logical}"
            return {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}
        if kind == "AWS::KMS::Key":
            # A placeholder id: moto assigns the key's id when the stack creates it (``LocalRuntime``), and the
            # runtime puts the real one here and in the functions' environment.
            key_id = f"{STACK}-{logical}"
            return {"Ref": key_id, "Arn": pseudo.format(service="kms", resource=f"key/{key_id}"), "KeyId": key_id}
        if kind == "AWS::KMS::Alias":
            name = self.resolve(properties["AliasName"])
            return {"Ref": name}
        return {"Ref": f"{STACK}-{logical}", "Arn": pseudo.format(service="local", resource=logical)}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.physical[logical][attribute]
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1), variables), text)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": STACK,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical[name]["Ref"]

    def _sub(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.physical[logical][attribute]
        return self._ref(name)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {logical: spec for logical, spec in self.resources.items() if spec["Type"] == kind}

    def function_environment(self) -> dict[str, str]:
        """Globals merged with every function's own variables (one process hosts them all; they agree)."""
        from cfnlint.decode import cfn_yaml

        globals_env = cfn_yaml.load(str(TEMPLATE))["Globals"]["Function"]["Environment"]["Variables"]
        env = {k: str(self.resolve(v)) for k, v in globals_env.items()}
        for spec in self.of_type("AWS::Serverless::Function").values():
            own = spec["Properties"].get("Environment", {}).get("Variables", {})
            env.update({k: str(self.resolve(v)) for k, v in own.items()})
        return env

    def api_routes(self) -> list[tuple[str, str, str]]:
        """(method, path template, function logical id) of every Api event."""
        routes = []
        for logical, spec in self.of_type("AWS::Serverless::Function").items():
            for event in spec["Properties"].get("Events", {}).values():
                if event["Type"] == "Api":
                    routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical))
        return routes

    def state_machine_definition(self, logical: str) -> str:
        properties = self.resources[logical]["Properties"]
        text = (ROOT / properties["DefinitionUri"]).read_text()
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            text = text.replace(f"${{{name}}}", str(self.resolve(value)))
        return text


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
            error_type = type(exc).__name__
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


# ---- API Gateway emulator --------------------------------------------------------------------------------------


class ApiGatewayEmulator:
    """REST API (v1 proxy events) for the template's Api routes, dispatched to the handler in-process."""

    def __init__(self, routes: list[tuple[str, str, Handler]], output: CapturedOutput) -> None:
        self._routes = [
            (method, template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), handler)
            for method, template, handler in routes
        ]
        self._output = output
        self._server: Any = None

    def start(self, port: int) -> int:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", port, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="api-emulator", daemon=True).start()
        return self._server.server_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        for method, template, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                response = self._call(handler, request, template, match.groupdict())
                return response(environ, start_response)
        body = json.dumps({"message": "Missing Authentication Token"})
        return Response(body, status=403, content_type="application/json")(environ, start_response)

    def _call(self, handler: Handler, request: Any, template: str, params: dict[str, str]) -> Any:
        from werkzeug.wrappers import Response

        query = request.args
        event = {
            "resource": template,
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(request.headers),
            "multiValueHeaders": {k: request.headers.getlist(k) for k, _ in request.headers.items()},
            "queryStringParameters": {k: query.get(k) for k in query} or None,
            "multiValueQueryStringParameters": {k: query.getlist(k) for k in query} or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "stage": "v1",
                "requestId": str(uuid.uuid4()),
                "resourcePath": template,
                "httpMethod": request.method,
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {
                    "sourceIp": request.remote_addr,
                    "userArn": None,
                    "caller": f"local:{request.remote_addr}",
                },
            },
            "body": request.get_data(as_text=True) or None,
            "isBase64Encoded": False,
        }
        with self._output.capturing():
            try:
                result = handler(event, LambdaContext("api"))
            except Exception:
                return Response(
                    json.dumps({"message": "Internal server error"}), status=502, content_type="application/json"
                )
        headers = {**(result.get("headers") or {})}
        response = Response(result.get("body") or "", status=result["statusCode"], headers=headers)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(name, value)
        return response


# ---- the whole stack --------------------------------------------------------------------------------------------

_active: LocalRuntime | None = None


class LocalRuntime:
    def __init__(self, log_path: Path | None = None) -> None:
        self.api_url = self.sim_url = self.moto_url = ""
        self.template: ResolvedTemplate | None = None
        self._log_path = log_path or ROOT / ".local-stack" / "lambda.log"
        self._simulator: Any = None
        self._moto: Any = None
        self._api: ApiGatewayEmulator | None = None
        self._scheduler: Any = None
        self._output: CapturedOutput | None = None
        self._dispatcher: LambdaDispatcher | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_stdout: Any = None
        self._patched: list[tuple[Any, str, Any]] = []
        self._sqs_poller: Any = None

    def __enter__(self) -> LocalRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle
    def start(
        self,
        api_port: int = 3000,
        sim_port: int = 8787,
        moto_port: int = 5000,
        parameter_overrides: dict[str, str] | None = None,
    ) -> LocalRuntime:
        global _active
        if _active is not None:
            raise RuntimeError("a LocalRuntime is already running in this process (moto's backends are global)")
        _active = self
        try:
            self._start(api_port, sim_port, moto_port, parameter_overrides or {})
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, api_port: int, sim_port: int, moto_port: int, overrides: dict[str, str]) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per moto or API request
        # moto's ASL engine logs every Fail state as an error; the execution history already says it.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

        external_genesys = os.environ.get("GENESYS_API_URL") and os.environ.get("GENESYS_LOGIN_URL")
        if external_genesys:
            self.sim_url = ""
        else:
            from presence_manager_local.simulator.server import start_simulator

            self._simulator = start_simulator(port=sim_port)
            self.sim_url = self._simulator.url

        self._serialise_dynamodb_items()
        self._address_partner_buses()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        port = self._moto._server.server_port  # the real one when 0 was asked for
        self.moto_url = f"http://127.0.0.1:{port}"
        self._set_env({"MOTO_PORT": str(port)})
        import httpx

        httpx.post(
            f"{self.moto_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
        ).raise_for_status()

        hours = local_business_hours(None if external_genesys else self._simulator)
        self.template = ResolvedTemplate.load({**LOCAL_PARAMETERS, **hours, **overrides})
        self._set_env(self._lambda_environment(bool(external_genesys)))
        self._output = CapturedOutput(sys.stdout, self._log_path)
        self._saved_stdout, sys.stdout = sys.stdout, self._output
        self._dispatcher = LambdaDispatcher(self._output)
        self._dispatcher.install()
        self._reset_caches()
        self._create_resources()

        routes = [
            (method, path, self._dispatcher.handlers[self.template.physical[logical]["Ref"]])
            for method, path, logical in self.template.api_routes()
        ]
        self._api = ApiGatewayEmulator(routes, self._output)
        self.api_url = f"http://127.0.0.1:{self._api.start(api_port)}"

        from presence_manager_local.scheduler import OneTimeScheduleRunner

        self._scheduler = OneTimeScheduleRunner(self.boto3_client("scheduler"), self.boto3_client("stepfunctions"))
        self._scheduler.start()
        self._start_sqs_mappings()
        self._connect_genesys_events()

    def _lambda_environment(self, external_genesys: bool) -> dict[str, str]:
        assert self.template is not None
        env = self.template.function_environment()
        env.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        if external_genesys:
            env.update(
                {"GENESYS_API_URL": os.environ["GENESYS_API_URL"], "GENESYS_LOGIN_URL": os.environ["GENESYS_LOGIN_URL"]}
            )
        else:
            env.update({"GENESYS_API_URL": self.sim_url, "GENESYS_LOGIN_URL": self.sim_url, "GENESYS_REGION": ""})
        return env

    def _create_resources(self) -> None:
        assert self.template is not None and self._dispatcher is not None
        template = self.template
        self._create_keys()
        iam = self.boto3_client("iam")
        role = iam.create_role(
            RoleName=f"{STACK}-exec", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )
        role_arn = role["Role"]["Arn"]
        for logical in template.of_type("AWS::IAM::Role"):
            iam.create_role(RoleName=template.physical[logical]["Ref"], AssumeRolePolicyDocument="{}")

        dynamodb = self.boto3_client("dynamodb")
        for logical, spec in template.of_type("AWS::DynamoDB::Table").items():
            properties = spec["Properties"]
            name = template.physical[logical]["Ref"]
            keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
            dynamodb.create_table(TableName=name, **{k: properties[k] for k in keys if k in properties})
            ttl = properties.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=dict(ttl))

        s3 = self.boto3_client("s3")
        for logical in template.of_type("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=template.physical[logical]["Ref"])

        self._create_queues()
        events = self.boto3_client("events")
        for logical, spec in template.of_type("AWS::Events::EventBus").items():
            source = template.resolve(spec["Properties"].get("EventSourceName"))
            if source:  # a partner event source's bus (the Genesys integration's): the partner creates the source
                events.create_partner_event_source(Name=source, Account=ACCOUNT)
                events.create_event_bus(Name=template.physical[logical]["Ref"], EventSourceName=source)
            else:
                events.create_event_bus(Name=template.physical[logical]["Ref"])
        for logical, spec in template.of_type("AWS::Events::Rule").items():
            properties = template.resolve(spec["Properties"])
            bus = properties.get("EventBusName", "default")
            events.put_rule(
                Name=template.physical[logical]["Name"],
                EventBusName=bus,
                EventPattern=json.dumps(properties["EventPattern"]),
                State=properties.get("State", "ENABLED"),
            )
            targets = [{"Id": target["Id"], "Arn": target["Arn"]} for target in properties.get("Targets", [])]
            events.put_targets(Rule=template.physical[logical]["Name"], EventBusName=bus, Targets=targets)
        scheduler = self.boto3_client("scheduler")
        for logical in template.of_type("AWS::Scheduler::ScheduleGroup"):
            scheduler.create_schedule_group(Name=template.physical[logical]["Ref"])

        if not os.environ.get("GENESYS_CLIENT_ID"):
            self.boto3_client("secretsmanager").create_secret(
                Name=template.parameters["GenesysCredentialsSecretId"],
                SecretString=json.dumps({"clientId": SIM_CLIENT_ID, "clientSecret": SIM_CLIENT_SECRET}),
            )

        lambda_client = self.boto3_client("lambda")
        for logical, spec in template.of_type("AWS::Serverless::Function").items():
            name = template.physical[logical]["Ref"]
            lambda_client.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role_arn,
                Handler=spec["Properties"]["Handler"],
                Code={"ZipFile": b"local"},
                Timeout=function_timeout(template, logical),  # the dispatcher enforces it on every invocation
            )
            self._dispatcher.handlers[name] = load_handler(
                spec["Properties"]["CodeUri"], spec["Properties"]["Handler"], logical
            )

        sfn = self.boto3_client("stepfunctions")
        for logical, spec in template.of_type("AWS::Serverless::StateMachine").items():
            sfn.create_state_machine(
                name=template.physical[logical]["Name"],
                definition=template.state_machine_definition(logical),
                roleArn=role_arn,
                type=spec["Properties"].get("Type", "STANDARD"),
            )

    def _create_keys(self) -> None:
        """The template's KMS keys and aliases. moto assigns a key its id, so the key's ``Ref``/``Arn`` are known
        only now: they replace the placeholders in the resolved template, and every function environment variable
        that changes with them (``GENESYS_TOKEN_KMS_KEY_ID``) is set again, before any handler is loaded."""
        assert self.template is not None
        template = self.template
        keys = template.of_type("AWS::KMS::Key")
        if not keys:
            return
        environment = template.function_environment()
        kms = self.boto3_client("kms")
        for logical, spec in keys.items():
            properties = spec.get("Properties", {})
            options: dict[str, Any] = {"Description": template.resolve(properties.get("Description", logical))}
            if "KeyPolicy" in properties:
                options["Policy"] = json.dumps(template.resolve(properties["KeyPolicy"]))
            metadata = kms.create_key(**options)["KeyMetadata"]
            if properties.get("EnableKeyRotation"):
                kms.enable_key_rotation(KeyId=metadata["KeyId"])
            template.physical[logical] = {"Ref": metadata["KeyId"], "Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}
        for logical, spec in template.of_type("AWS::KMS::Alias").items():
            properties = spec["Properties"]
            kms.create_alias(
                AliasName=template.physical[logical]["Ref"], TargetKeyId=template.resolve(properties["TargetKeyId"])
            )
        changed = template.function_environment()
        self._set_env({name: value for name, value in changed.items() if environment.get(name) != value})

    def _serialise_dynamodb_items(self) -> None:
        """DynamoDB applies each conditional write to an item atomically; moto's backend, serving the stack's
        Lambdas from several threads, does not. The shared rate budget and token (conditional updates from every
        Lambda at once) rely on it, so single-item operations are serialised while the stack runs."""
        from moto.dynamodb.models import DynamoDBBackend

        lock = threading.RLock()
        for name in ("get_item", "put_item", "update_item", "delete_item"):
            original = getattr(DynamoDBBackend, name)

            def serialised(backend: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
                with lock:
                    return __original(backend, *args, **kwargs)

            self._patched.append((DynamoDBBackend, name, original))
            setattr(DynamoDBBackend, name, serialised)

    def _address_partner_buses(self) -> None:
        """A partner event bus is named like its source, ``aws.partner/genesys.com/cloud/{orgId}/{name}``; moto takes
        the last ``/``-segment of any bus name or ARN as the name (``presence-manager-local``), so such a bus is
        created but can be given neither rules nor events. Names are taken whole, ARNs from their ``event-bus/``."""
        from moto.events.models import EventsBackend

        original = EventsBackend._normalize_event_bus_arn

        def normalize(backend: Any, event_bus_arn: str | None) -> str:
            if event_bus_arn is None:
                return "default"
            if event_bus_arn.startswith("arn:"):
                return event_bus_arn.split(":event-bus/", 1)[-1]
            return event_bus_arn

        self._patched.append((EventsBackend, "_normalize_event_bus_arn", original))
        EventsBackend._normalize_event_bus_arn = normalize  # type: ignore[method-assign]

    def _unpatch(self) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched = []

    def _reset_caches(self) -> None:
        """Process-wide caches of a warm Lambda, dropped so they pick up this stack's environment."""
        from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

        from presence_manager import dependencies
        from presence_manager.config import app_settings
        from presence_manager.genesys import client
        from presence_manager.workflow.validate import schedule_searches

        DEFAULT_PROVIDERS.clear()  # Powertools Parameters' providers hold boto3 clients made for another endpoint
        schedule_searches.clear()  # schedule searches a warm Lambda reuses within the hour
        dependencies.unit_schedule_groups_forget()
        app_settings.cache_clear()
        dependencies.aws_client.cache_clear()
        dependencies.dynamodb.cache_clear()
        client._shared = None

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def stop(self) -> None:
        global _active
        if self._simulator is not None:
            self._simulator.state.event_sink = None  # no event is put on a bus that is about to go
        for part in (self._scheduler, self._sqs_poller, self._api):
            if part is not None:
                part.stop()
        if self._moto is not None:
            self._moto.stop()
        if self._simulator is not None:
            self._simulator.stop()
        if self._dispatcher is not None:
            self._dispatcher.uninstall()
        self._unpatch()
        if self._saved_stdout is not None:
            sys.stdout = self._saved_stdout
        if self._output is not None:
            self._output.close_log()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._scheduler = self._api = self._moto = self._simulator = self._dispatcher = self._output = None
        self._sqs_poller = None
        self._saved_env, self._saved_stdout = {}, None
        if _active is self:
            _active = None
            self._reset_caches()

    # -- access
    def boto3_client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def table_name(self, logical_id: str) -> str:
        assert self.template is not None
        return self.template.physical[logical_id]["Ref"]

    def emf_records(self) -> list[dict[str, Any]]:
        return list(self._output.emf) if self._output else []

    def invocations(self) -> list[dict[str, Any]]:
        return list(self._dispatcher.invocations) if self._dispatcher else []

    @property
    def sqs_poller(self) -> Any:
        """The local SQS event source mappings (:class:`.sqs_poller.SqsPoller`; ``paused(function)``)."""
        return self._sqs_poller

    def sqs_deliveries(self, function_logical: str | None = None) -> list[dict[str, Any]]:
        """The batches the local SQS event source mappings delivered (:mod:`.sqs_poller`), oldest first."""
        deliveries = list(self._sqs_poller.deliveries) if self._sqs_poller else []
        return [d for d in deliveries if function_logical in (None, d["function"])]

    # -- SQS event source mappings and the Genesys events (local adaptations)
    def _create_queues(self) -> None:
        """The template's queues with their visibility timeout, retention and dead-letter queue (moto moves a
        message there after maxReceiveCount receives, as SQS does)."""
        assert self.template is not None
        template, sqs = self.template, self.boto3_client("sqs")
        queues = template.of_type("AWS::SQS::Queue")
        for logical, spec in queues.items():
            properties = template.resolve(spec.get("Properties", {}))
            attributes = {
                name: str(properties[name])
                for name in ("VisibilityTimeout", "MessageRetentionPeriod")
                if name in properties
            }
            sqs.create_queue(QueueName=template.physical[logical]["QueueName"], Attributes=attributes)
        for logical, spec in queues.items():  # every dead-letter queue exists now
            redrive = template.resolve(spec.get("Properties", {})).get("RedrivePolicy")
            if redrive:
                sqs.set_queue_attributes(
                    QueueUrl=sqs.get_queue_url(QueueName=template.physical[logical]["QueueName"])["QueueUrl"],
                    Attributes={"RedrivePolicy": json.dumps(redrive)},
                )

    def _start_sqs_mappings(self) -> None:
        """Lambda's SQS event source mappings (every function ``Events`` entry of ``Type: SQS``), which moto does
        not run: a poller per mapping invokes the function in-process (:mod:`.sqs_poller`)."""
        from presence_manager_local.sqs_poller import SqsMapping, SqsPoller, parse_payload

        assert self.template is not None and self._dispatcher is not None
        template, sqs = self.template, self.boto3_client("sqs")
        mappings = []
        for logical, spec in template.of_type("AWS::Serverless::Function").items():
            for event in spec["Properties"].get("Events", {}).values():
                if event["Type"] != "SQS":
                    continue
                properties = template.resolve(event["Properties"])
                queue_arn = properties["Queue"]
                queue_name = queue_arn.rsplit(":", 1)[-1]
                attributes = sqs.get_queue_attributes(
                    QueueUrl=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"], AttributeNames=["VisibilityTimeout"]
                )["Attributes"]
                mappings.append(
                    SqsMapping(
                        function_logical=logical,
                        function_name=template.physical[logical]["Ref"],
                        queue_arn=queue_arn,
                        queue_url=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                        batch_size=int(properties.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in properties.get("FunctionResponseTypes", []),
                        timeout_seconds=function_timeout(template, logical),
                        visibility_timeout_seconds=int(attributes.get("VisibilityTimeout", 30)),
                    )
                )
        dispatcher = self._dispatcher

        def invoke(function_name: str, event: dict[str, Any], timeout: float) -> tuple[Any, str | None]:
            headers: dict[str, str] = {}
            raw = dispatcher.invoke(function_name, json.dumps(event).encode(), headers, timeout_seconds=timeout)
            payload = parse_payload(raw)
            error = None
            if "x-amz-function-error" in headers:
                error = payload.get("errorType", "Unhandled") if isinstance(payload, dict) else "Unhandled"
            return payload, error

        self._sqs_poller = SqsPoller(sqs, invoke, mappings, region=REGION)
        self._sqs_poller.start()

    def _connect_genesys_events(self) -> None:
        """The simulator's notification events, in the Amazon EventBridge integration's envelope, on the local
        partner event bus (``GenesysEventSourceName``): the template's rule routes them as it would in AWS."""
        assert self.template is not None
        source = self.template.parameters.get("GenesysEventSourceName")
        if self._simulator is None or not source:
            return
        from presence_manager.genesys.events import event_detail, topic_pattern

        events = self.boto3_client("events")

        def put(topic: str, body: dict[str, Any]) -> None:
            detail = event_detail(topic, body, correlation_id=str(uuid.uuid4()), timestamp=datetime.now(UTC))
            entry = {"Source": source, "DetailType": topic_pattern(topic), "Detail": json.dumps(detail)}
            answer = events.put_events(Entries=[{**entry, "EventBusName": source}])
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"the partner bus refused {topic}: {answer['Entries']}")

        self._simulator.state.event_sink = put


def serve(api_port: int = 3000, sim_port: int = 8787, moto_port: int = 5000) -> None:
    """``make up``: run the stack on fixed ports until Ctrl-C."""
    runtime = LocalRuntime()
    runtime.start(api_port=api_port, sim_port=sim_port, moto_port=moto_port)
    assert runtime.template is not None
    parameters = runtime.template.parameters
    hours = f"{parameters['BusinessHoursStart']}-{parameters['BusinessHoursEnd']} America/New_York (around now)"
    if parameters.get("BusinessHoursScheduleGroupId"):
        hours = (
            f"schedule group {parameters['BusinessHoursScheduleGroupId']} (open around now; "
            f"GET {runtime.sim_url}/__sim/schedulegroups)"
        )
    print(
        "genesys-presence-manager local stack is up\n"
        f"  API                      {runtime.api_url}\n"
        f"  Genesys Cloud simulator  {runtime.sim_url or os.environ.get('GENESYS_API_URL')}"
        f"  (client {SIM_CLIENT_ID} / {SIM_CLIENT_SECRET}; admin API under /__sim/)\n"
        f"  moto (AWS)               {runtime.moto_url}\n"
        f"  business hours           {hours}\n"
        f"  Lambda logs and EMF      {runtime._log_path}\n\n"
        f"  try: presence-manager --api {runtime.api_url} presence $(curl -s {runtime.sim_url}/__sim/state"
        ' | python3 -c \'import json,sys; print(json.load(sys.stdin)["users"][0]["id"])\')\n'
        "Ctrl-C stops it.",
        file=sys.__stdout__,
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
