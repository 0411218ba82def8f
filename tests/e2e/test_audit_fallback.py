"""End to end: when the audit table refuses the Record step after every retry, the execution parks its state on the
fallback queue (AuditRecordDeferred), and the Record function, as the queue's consumer, writes the record later."""

from __future__ import annotations

import json
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

    queue = sqs.get_queue_url(QueueName=stack.template.physical["AuditFallbackQueue"]["QueueName"])["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["changeId"] for m in messages] == [started["changeId"]]
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }
    answer = stack.boto3_client("lambda").invoke(
        FunctionName=stack.template.physical["RecordFunction"]["Ref"], Payload=json.dumps(event).encode()
    )
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": []}
    status = Api(stack.api_url).get(f"/presence-changes/{started['changeId']}")
    assert status["outcome"] == "rejected"
    assert status["details"]["changeId"] == started["changeId"]
