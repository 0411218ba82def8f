"""Deployment hardening of template.yaml: least-privilege IAM (the credentials secret by its exact ARN, the lease's
own DynamoDB actions, Step Functions' log delivery only), a dead-letter queue and alarms for the audit fallback,
log retention, the API access log, alarm actions, the parameters the state machines substitute and the layer's
pins. Conditions (``Fn::If``) are evaluated here for both of their branches."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from presence_manager_local.emulation import ROOT, ResolvedTemplate

GENESYS_FUNCTIONS = {
    "ValidateFunction",
    "LockedUpdateFunction",
    "SkillOverrideFunction",
    "ResolveAgentsFunction",
    "ApiFunction",
    "PlannerFunction",
}
SECRET_NAME = "genesys-presence-manager/prod"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:genesys-presence-manager/prod-AbC123"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NO_VALUE = object()


def raw_template() -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(ROOT / "template.yaml"))


class Stack:
    """template.yaml under one set of parameters, with its Conditions evaluated and ``Fn::If`` resolved."""

    def __init__(self, **parameters: str) -> None:
        self.raw = raw_template()
        self.template = ResolvedTemplate.load({"GenesysCredentialsSecretId": SECRET_NAME, **parameters})
        self.conditions = {name: self._condition(body) for name, body in self.raw["Conditions"].items()}

    def _condition(self, body: Any) -> Any:
        if isinstance(body, dict) and len(body) == 1:
            ((key, argument),) = body.items()
            if key == "Fn::Equals":
                return self._condition(argument[0]) == self._condition(argument[1])
            if key == "Fn::Not":
                return not self._condition(argument[0])
            if key == "Fn::Select":
                return self._condition(argument[1])[int(argument[0])]
            if key == "Fn::Split":
                return str(self._condition(argument[1])).split(argument[0])
            if key == "Condition":
                return self._condition(self.raw["Conditions"][argument])
            if key == "Ref":
                return self.template.parameters[argument]
        return body

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if isinstance(value, dict):
            if list(value) == ["Fn::If"]:
                condition, when_true, when_false = value["Fn::If"]
                return self.resolve(when_true if self.conditions[condition] else when_false)
            if value == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            if len(value) == 1 and next(iter(value)) in {"Ref", "Fn::GetAtt", "Fn::Sub"}:
                return self.template.resolve(value)
            return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}
        return value

    def properties(self, logical: str) -> dict[str, Any]:
        return self.raw["Resources"][logical].get("Properties", {})

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == kind}


def statements(stack: Stack, logical: str) -> list[dict[str, Any]]:
    return stack.resolve(stack.properties(logical)["PolicyDocument"]["Statement"])


def secret_statements(stack: Stack) -> list[dict[str, Any]]:
    """The statements of the Genesys-calling functions' managed policy that read the credentials secret (the
    secret itself, and its customer-managed key through Secrets Manager)."""
    return [
        statement
        for statement in statements(stack, "GenesysCredentialsReadPolicy")
        if statement["Action"] == "secretsmanager:GetSecretValue"
        or "kms:ViaService" in statement.get("Condition", {}).get("StringEquals", {})
    ]


def shared_state_statements(stack: Stack) -> list[dict[str, Any]]:
    """The rest of that policy: the deployment's shared token and rate budget."""
    secret = secret_statements(stack)
    return [s for s in statements(stack, "GenesysCredentialsReadPolicy") if s not in secret]


def iam_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN wildcards: ``*`` any run of characters, ``?`` exactly one (fnmatch has the same two, and no others
    matter here: the pattern holds no ``[``)."""
    assert "[" not in pattern
    return fnmatchcase(arn, pattern)


# ---- the credentials secret ------------------------------------------------------------------------------------


def test_a_secret_given_by_name_is_granted_as_that_secret_with_any_six_character_suffix_and_nothing_else() -> None:
    (grant,) = secret_statements(Stack())
    assert grant["Action"] == "secretsmanager:GetSecretValue"
    resource = grant["Resource"]
    assert resource == f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{SECRET_NAME}-??????"
    assert iam_matches(resource, f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{SECRET_NAME}-x9Y8z7")
    for other in (f"{SECRET_NAME}-other-x9Y8z7", f"{SECRET_NAME}uction-x9Y8z7", f"{SECRET_NAME}-x9Y8z"):
        assert not iam_matches(resource, f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{other}")


@pytest.mark.parametrize(
    ("secret_id", "is_arn"),
    [(SECRET_ARN, True), (SECRET_NAME, False), ("my-arn:secret", False), ("arn", False), ("arnold/secret", False)],
)
def test_the_secret_is_an_arn_exactly_when_the_value_starts_with_arn_colon(secret_id: str, is_arn: bool) -> None:
    assert Stack(GenesysCredentialsSecretId=secret_id).conditions["IsSecretArn"] is is_arn


def test_a_secret_given_by_arn_is_granted_as_exactly_that_arn() -> None:
    (grant,) = secret_statements(Stack(GenesysCredentialsSecretId=SECRET_ARN))
    assert grant["Resource"] == SECRET_ARN


def test_a_customer_managed_key_is_granted_decrypt_only_through_secrets_manager_and_only_when_given() -> None:
    assert len(secret_statements(Stack())) == 1
    _, decrypt = secret_statements(Stack(GenesysCredentialsKmsKeyArn=KEY_ARN))
    assert decrypt == {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KEY_ARN,
        "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}},
    }
    pattern = Stack().raw["Parameters"]["GenesysCredentialsKmsKeyArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, KEY_ARN) and re.fullmatch(pattern, "") and not re.fullmatch(pattern, "alias/x")


def test_exactly_the_functions_that_call_genesys_read_the_secret_through_the_one_managed_policy() -> None:
    stack = Stack()
    readers = set()
    for logical, spec in stack.of_type("AWS::Serverless::Function").items():
        policies = spec["Properties"].get("Policies", [])
        assert "secretsmanager" not in json.dumps(policies), f"{logical} grants the secret inline"
        if {"Ref": "GenesysCredentialsReadPolicy"} in policies:
            readers.add(logical)
    assert readers == GENESYS_FUNCTIONS  # Export and Record never call Genesys


def calls_in(module: str, attribute: str) -> set[str]:
    """``self.<attribute>.<call>(`` in a module of the core library, as IAM actions' names (``update_item`` ->
    ``UpdateItem``)."""
    text = (ROOT / "layers/core/presence_manager" / module).read_text()
    calls = set(re.findall(rf"self\.{attribute}\.(\w+)\(", text))
    assert calls, f"{module} no longer calls {attribute} as self.{attribute}.<call>(...)"
    return {"".join(part.title() for part in call.split("_")) for call in calls}


def test_the_shared_token_and_budget_are_granted_exactly_their_two_items_and_their_calls() -> None:
    """The grant follows the code: the table calls of budget.py and token_store.py, only on the items they use."""
    from presence_manager.genesys.budget import BUDGET_KEY_PREFIX
    from presence_manager.genesys.token_store import TOKEN_KEY_PREFIX

    stack = Stack()
    table, key = shared_state_statements(stack)
    used = calls_in("genesys/budget.py", "_table") | calls_in("genesys/token_store.py", "_table")
    assert table == {
        "Effect": "Allow",
        "Action": sorted(f"dynamodb:{call}" for call in used),
        "Resource": stack.template.physical["AgentTable"]["Arn"],
        "Condition": {
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": [f"{TOKEN_KEY_PREFIX}genesys", f"{BUDGET_KEY_PREFIX}genesys"]
            }
        },
    }
    assert key["Action"] == sorted(f"kms:{call}" for call in calls_in("genesys/token_store.py", "_kms"))
    assert key["Resource"] == stack.template.physical["GenesysTokenKey"]["Arn"]


def test_the_token_key_is_granted_only_for_the_encryption_context_the_token_store_uses() -> None:
    import boto3
    from moto import mock_aws

    from presence_manager.genesys.token_store import SharedTokenStore
    from tests.aws_tables import create_table_from_template

    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        store = SharedTokenStore(dynamodb, "agents", boto3.client("kms", region_name="us-east-1"), "key")
    (_, key) = shared_state_statements(Stack())
    context = {f"kms:EncryptionContext:{k}": v for k, v in store._context.items()}
    assert key["Condition"] == {"StringEquals": context}


def test_the_token_key_rotates_and_is_administered_by_the_account_through_iam() -> None:
    stack = Stack()
    key = stack.resolve(stack.properties("GenesysTokenKey"))
    assert key["EnableKeyRotation"] is True
    (statement,) = key["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    environment = stack.raw["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["GENESYS_TOKEN_KMS_KEY_ID"] == {"Ref": "GenesysTokenKey"}
    assert environment["GENESYS_RATE_PER_MINUTE"] == {"Ref": "GenesysRequestsPerMinute"}
    parameter = stack.raw["Parameters"]["GenesysRequestsPerMinute"]
    assert (parameter["Default"], parameter["MinValue"]) == (300, 2)
    assert "client.credentials.token.rate.per.minute" in parameter["Description"]


def test_the_secret_parameter_names_every_permission_the_oauth_client_needs() -> None:
    description = Stack().raw["Parameters"]["GenesysCredentialsSecretId"]["Description"]
    for permission in (
        "presence:userPresence:edit",
        "presence:presenceDefinition:view",
        "routing:skill:assign",
        "wfm:schedule:view",
    ):
        assert permission in description


# ---- least privilege elsewhere -----------------------------------------------------------------------------------


def test_no_role_carries_a_full_access_or_crud_policy() -> None:
    text = json.dumps(raw_template()["Resources"])
    for broad in ("FullAccess", "DynamoDBCrudPolicy", "AdministratorAccess", '"Action": "*"', '"dynamodb:*"'):
        assert broad not in text


def test_the_state_machines_may_only_deliver_their_logs() -> None:
    stack = Stack()
    (delivery,) = statements(stack, "StateMachineLogDeliveryPolicy")
    assert delivery == {
        "Effect": "Allow",
        "Action": [
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ],
        "Resource": "*",
    }
    for logical in stack.of_type("AWS::Serverless::StateMachine"):
        policies = stack.properties(logical)["Policies"]
        assert {"Ref": "StateMachineLogDeliveryPolicy"} in policies
        assert not [p for p in policies if isinstance(p, str)], "no AWS managed policy by name"


def test_locked_update_is_granted_exactly_the_dynamodb_calls_the_lease_makes_on_the_agent_table() -> None:
    """The grant follows the code: each ``self._table.<call>(`` in lease.py is one action (boto3's
    ``batch_writer`` sends BatchWriteItem)."""
    lease = (ROOT / "layers/core/presence_manager/lease.py").read_text()
    calls = set(re.findall(r"self\._table\.(\w+)\(", lease))
    assert calls, "lease.py no longer calls its table as self._table.<call>(...)"
    actions = {"batch_writer": "batch_write_item"}
    used = {"dynamodb:" + "".join(part.title() for part in actions.get(call, call).split("_")) for call in calls}
    stack = Stack()
    grants = [
        statement
        for policy in stack.properties("LockedUpdateFunction")["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in stack.resolve(policy["Statement"])
    ]
    assert grants == [
        {"Effect": "Allow", "Action": sorted(used), "Resource": stack.template.physical["AgentTable"]["Arn"]}
    ]


# ---- audit fallback queue ----------------------------------------------------------------------------------------


def test_the_audit_fallback_queue_has_a_dead_letter_queue_and_both_are_alarmed() -> None:
    stack = Stack()
    queue, dlq = stack.properties("AuditFallbackQueue"), stack.properties("AuditFallbackDeadLetterQueue")
    redrive = stack.resolve(queue["RedrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": stack.template.physical["AuditFallbackDeadLetterQueue"]["Arn"],
        "maxReceiveCount": 10,
    }
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600 and dlq["SqsManagedSseEnabled"] is True
    record_timeout = stack.properties("RecordFunction").get("Timeout", stack.raw["Globals"]["Function"]["Timeout"])
    assert queue["VisibilityTimeout"] >= 6 * record_timeout

    def alarm_on(queue_logical: str) -> dict[str, Any]:
        (alarm,) = [
            stack.resolve(spec["Properties"])
            for spec in stack.of_type("AWS::CloudWatch::Alarm").values()
            if spec["Properties"]["Dimensions"]
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_logical, "QueueName"]}}]
        ]
        return alarm

    age = alarm_on("AuditFallbackQueue")
    assert (age["MetricName"], age["ComparisonOperator"], age["Threshold"]) == (
        "ApproximateAgeOfOldestMessage",
        "GreaterThanThreshold",
        3600,
    )
    dead = alarm_on("AuditFallbackDeadLetterQueue")
    assert (dead["MetricName"], dead["ComparisonOperator"], dead["Threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        "GreaterThanOrEqualToThreshold",
        1,
    )


@pytest.mark.parametrize("topic", ["", "arn:aws:sns:us-east-1:123456789012:oncall"])
def test_every_alarm_notifies_the_topic_when_one_is_given_and_nothing_otherwise(topic: str) -> None:
    stack = Stack(AlarmTopicArn=topic)
    alarms = stack.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 6
    for logical, spec in alarms.items():
        properties = stack.resolve(spec["Properties"])
        for actions in ("AlarmActions", "OKActions"):
            assert properties.get(actions) == ([topic] if topic else None), (logical, actions)


# ---- logs --------------------------------------------------------------------------------------------------------

CLOUDWATCH_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
CLOUDWATCH_RETENTION_DAYS |= {2922, 3288, 3653}


def test_every_function_logs_to_its_own_log_group_with_the_retention_parameter() -> None:
    stack = Stack(LogRetentionDays="30")
    parameter = stack.raw["Parameters"]["LogRetentionDays"]
    assert set(parameter["AllowedValues"]) == CLOUDWATCH_RETENTION_DAYS and parameter["Default"] == 90
    groups = {}
    for logical, spec in stack.of_type("AWS::Serverless::Function").items():
        reference = spec["Properties"]["LoggingConfig"]["LogGroup"]
        group = stack.raw["Resources"][reference["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        groups[logical] = stack.resolve(group["Properties"])
    assert len({g["LogGroupName"] for g in groups.values()}) == len(groups), "one group per function"
    for logical, group in groups.items():
        assert group == {"LogGroupName": f"/aws/lambda/gpm-local-{logical}", "RetentionInDays": "30"}
    for logical, spec in stack.of_type("AWS::Logs::LogGroup").items():
        assert spec["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical


def test_the_api_access_log_is_json_with_who_called_what_and_never_headers_or_bodies() -> None:
    stack = Stack()
    setting = stack.properties("PresenceApi")["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    assert set(fields) == {
        "requestId",
        "ip",
        "caller",
        "user",
        "requestTime",
        "httpMethod",
        "resourcePath",
        "status",
        "protocol",
        "responseLength",
    }
    assert all(re.fullmatch(r"\$context\.[A-Za-z.]+", value) for value in fields.values())
    assert not [v for v in fields.values() if re.search(r"header|body|requestOverride|authorizer", v, re.I)]


def test_the_api_waits_for_api_gateways_logging_role_only_when_the_stack_sets_it() -> None:
    for value, created in (("true", True), ("false", False)):
        stack = Stack(ConfigureApiGatewayLogging=value)
        assert stack.conditions["CreateApiGatewayLoggingRole"] is created
        handle = stack.raw["Resources"]["ApiGatewayLoggingReady"]
        assert stack.raw["Resources"]["PresenceApi"]["DependsOn"] == "ApiGatewayLoggingReady"
        assert stack.resolve(handle["Metadata"])["ApiGatewayAccount"] == (
            "gpm-local-ApiGatewayAccount" if created else ""
        )
        for logical in ("ApiGatewayCloudWatchRole", "ApiGatewayAccount"):
            assert stack.raw["Resources"][logical]["Condition"] == "CreateApiGatewayLoggingRole"


# ---- parameters the workflow substitutes, checkov answers, layer pins --------------------------------------------


def test_every_placeholder_of_each_state_machine_definition_is_substituted() -> None:
    stack = Stack()
    for logical, spec in stack.of_type("AWS::Serverless::StateMachine").items():
        text = (ROOT / spec["Properties"]["DefinitionUri"]).read_text()
        placeholders = set(re.findall(r"\$\{(\w+)\}", text))
        assert placeholders <= set(spec["Properties"]["DefinitionSubstitutions"]), logical
        substitutions = spec["Properties"]["DefinitionSubstitutions"]
        assert substitutions["AmbiguousWriteSettleSeconds"] == {"Ref": "AmbiguousWriteSettleSeconds"}
        assert substitutions["LeaseMaxWaits"] == {"Ref": "LeaseMaxWaits"}
    parameters = stack.raw["Parameters"]
    assert {k: parameters["AmbiguousWriteSettleSeconds"][k] for k in ("Default", "MinValue", "MaxValue")} == {
        "Default": 60,
        "MinValue": 1,
        "MaxValue": 600,
    }
    assert {k: parameters["LeaseMaxWaits"][k] for k in ("Default", "MinValue", "MaxValue")} == {
        "Default": 60,
        "MinValue": 1,
        "MaxValue": 200,
    }
    environment = stack.raw["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["WRITE_SETTLE_SECONDS"] == {"Ref": "AmbiguousWriteSettleSeconds"}


def test_every_checkov_skip_names_a_check_and_says_why() -> None:
    skips = [
        (logical, skip)
        for logical, spec in raw_template()["Resources"].items()
        for skip in ((spec.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    ]
    assert skips
    for logical, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), logical
        assert len(skip.get("comment", "")) >= 30, (logical, skip["id"])


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[re.sub(r"\[.*\]", "", name).lower()] = version
    return found


def test_the_layer_pins_every_runtime_dependency_as_pyproject_does_including_boto3_and_botocore() -> None:
    runtime = pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    layer = pins(Path(ROOT / "layers/core/requirements.txt").read_text().splitlines())
    assert {name: layer.get(name) for name in runtime} == runtime
    assert layer["botocore"] == layer["boto3"], "boto3 and botocore are released in lockstep"
