"""End to end: when the audit table refuses the Record step after every retry, the execution parks its state on the
fallback queue (AuditRecordDeferred), and the Record function, as the queue's consumer (its SQS event source mapping),
writes the record once the table is back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from presence_manager_local.emulation import ROOT
from presence_manager_local.scenarios import Api, Simulator, execution_path

pytestmark = pytest.mark.e2e


def test_given_the_audit_table_is_down_then_the_record_is_deferred_to_the_queue_and_written_once_it_is_back(
    stack: Any,
) -> None:
    from cfnlint.decode import cfn_yaml

    dynamodb, sqs, sfn = (stack.boto3_client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
    table = stack.table_name("AuditTable")
    properties = cfn_yaml.load(str(ROOT / "template.yaml"))["Resources"]["AuditTable"]["Properties"]
    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    backup = dynamodb.scan(TableName=table)["Items"]
    dynamodb.delete_table(TableName=table)
    try:
        agent = next(u for u in Simulator(stack.sim_url).state()["users"] if u["schedulePattern"] == "off_shift")
        started = Api(stack.api_url).post("/presence-changes", {"userId": agent["id"], "presence": "On Queue"})
        deadline = time.monotonic() + 90
        while (execution := sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.5)
    finally:
        dynamodb.create_table(TableName=table, **{k: properties[k] for k in keys if k in properties})
        for item in backup:
            dynamodb.put_item(TableName=table, Item=item)
    assert (execution["status"], execution.get("error")) == ("FAILED", "AuditRecordDeferred")
    path, _ = execution_path(sfn, started["executionArn"])
    assert path[-4:] == ["OutcomeRejected", "Record", "KeepAuditRecord", "AuditDeferred"]

    # The Record function consumes the queue (its SQS event source mapping, run locally by the runtime's poller):
    # while the table was down the message stayed on the queue; now it is written.
    api = Api(stack.api_url)
    deadline = time.monotonic() + 60
    while (status := api.get(f"/presence-changes/{started['changeId']}"))["outcome"] is None:
        assert time.monotonic() < deadline, "the deferred record was never written"
        time.sleep(0.5)
    assert status["outcome"] == "rejected"
    assert status["details"]["changeId"] == started["changeId"]
    deliveries = [
        d for d in stack.sqs_deliveries("RecordFunction") if any(started["changeId"] in b for b in d["bodies"])
    ]
    assert deliveries and deliveries[-1]["failed"] == [], "delivered by the mapping, the last time with success"
    queue = sqs.get_queue_url(QueueName=stack.template.physical["AuditFallbackQueue"]["QueueName"])["QueueUrl"]
    left = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert left == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
