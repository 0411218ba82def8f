"""template.yaml for the local stack: its parameters, resources and physical names, intrinsics resolved."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
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
