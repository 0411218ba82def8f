"""The local runtime: the Genesys Cloud simulator, moto in server mode executing *our* ASL, in-process Lambda
dispatch and an API Gateway emulator, all on loopback, with every resource created from template.yaml itself.

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)   # 0 = a free port
        ...runtime.api_url, runtime.sim_url, runtime.boto3_client("stepfunctions")
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from presence_manager_local.apigateway import ApiGatewayEmulator
from presence_manager_local.lambda_runtime import (
    CapturedOutput,
    LambdaContext,
    LambdaDispatcher,
    function_timeout,
    load_handler,
)
from presence_manager_local.local_template import (
    ACCOUNT,
    LOCAL_PARAMETERS,
    REGION,
    ROOT,
    SIM_CLIENT_ID,
    SIM_CLIENT_SECRET,
    STACK,
    TEMPLATE,
    ResolvedTemplate,
    business_hours_around_now,
    local_business_hours,
)

__all__ = [
    "ACCOUNT",
    "LOCAL_PARAMETERS",
    "REGION",
    "ROOT",
    "SIM_CLIENT_ID",
    "SIM_CLIENT_SECRET",
    "STACK",
    "TEMPLATE",
    "ApiGatewayEmulator",
    "CapturedOutput",
    "LambdaContext",
    "LambdaDispatcher",
    "LocalRuntime",
    "ResolvedTemplate",
    "business_hours_around_now",
    "function_timeout",
    "load_handler",
    "local_business_hours",
    "serve",
]

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
        self._count_sqs_messages_on_request()
        self._read_sqs_clock_directly()
        self._parse_event_paths_once()
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
        Lambda at once) rely on it, so item operations are serialised while the stack runs - and so are
        transactions, which deep-copy every table they touch: a write from another thread would break the copy
        mid-way ("dictionary changed size during iteration": a 500 the client retries, seen in ``make bench`` with
        single changes' transactions beside a bulk)."""
        from moto.dynamodb.models import DynamoDBBackend

        lock = threading.RLock()
        for name in (
            "get_item",
            "put_item",
            "update_item",
            "delete_item",
            "transact_get_items",
            "transact_write_items",
        ):
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

    def _count_sqs_messages_on_request(self) -> None:
        """moto builds a queue's every attribute, the three ``ApproximateNumberOf...`` counts included (a scan of
        every message, reading the clock for each), on each SendMessage and for each message a ReceiveMessage returns
        (its retention check): the cost of one message grows with the queue's depth, so a backlog of Genesys events
        makes every further one slower (found by ``make bench``: half the process's time was moto counting messages
        at 1,000 agents). Here the counts are made only when GetQueueAttributes asks for them, with the same values;
        SQS itself answers every call in constant time."""
        from moto.core.utils import camelcase_to_underscores
        from moto.sqs.models import Queue, SQSBackend

        counts = [name for name in Queue.BASE_ATTRIBUTES if name.startswith("ApproximateNumberOf")]
        original_names = Queue.BASE_ATTRIBUTES
        original_get = SQSBackend.get_queue_attributes

        def get_queue_attributes(backend: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
            wanted = counts if "All" in attribute_names else [n for n in attribute_names if n in counts]
            others = [name for name in attribute_names if name not in counts]
            answer = dict(original_get(backend, queue_name, others)) if others else {}
            queue = backend.get_queue(queue_name)
            answer.update({name: getattr(queue, camelcase_to_underscores(name)) for name in wanted})
            return answer

        self._patched.append((Queue, "BASE_ATTRIBUTES", original_names))
        Queue.BASE_ATTRIBUTES = [name for name in original_names if name not in counts]
        self._patched.append((SQSBackend, "get_queue_attributes", original_get))
        SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]

    def _read_sqs_clock_directly(self) -> None:
        """Every receive still looks at each message's visibility, moto reading the clock through a ``datetime``
        each time: the same epoch time, read directly (the scan stays; each step of it is several times cheaper)."""
        import time as clock

        import moto.sqs.models as sqs_models

        for name, scale in (("unix_time", 1.0), ("unix_time_millis", 1000.0)):
            original = getattr(sqs_models, name)

            def now(dt: Any = None, __original: Any = original, __scale: float = scale) -> float:
                return clock.time() * __scale if dt is None else float(__original(dt))

            self._patched.append((sqs_models, name, original))
            setattr(sqs_models, name, now)

    def _parse_event_paths_once(self) -> None:
        """moto's EventBridge compiles the same JSONPath expressions (its default input-paths map) with jsonpath-ng's
        parser for every event it sends to a target: an eighth of the process's time in ``make bench``. A parsed
        expression is immutable, so it is parsed once and reused."""
        import functools

        import jsonpath_ng.ext

        original = jsonpath_ng.ext.parse
        self._patched.append((jsonpath_ng.ext, "parse", original))
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(original)

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

        class PartnerBus:
            """The sink: each event as the integration puts it on the bus, up to ten in one PutEvents."""

            def __call__(self, topic: str, body: dict[str, Any]) -> None:
                self.put_batch([(topic, body)])

            def put_batch(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
                entries = [
                    {
                        "Source": source,
                        "DetailType": topic_pattern(topic),
                        "Detail": json.dumps(
                            event_detail(topic, body, correlation_id=str(uuid.uuid4()), timestamp=datetime.now(UTC))
                        ),
                        "EventBusName": source,
                    }
                    for topic, body in batch
                ]
                answer = events.put_events(Entries=entries)
                if answer.get("FailedEntryCount"):
                    raise RuntimeError(f"the partner bus refused events: {answer['Entries']}")

        self._simulator.state.event_sink = PartnerBus()


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
