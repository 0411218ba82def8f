"""The mocked AWS account of the unit tests: its environment and the template's DynamoDB tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MOCKED_AWS_ENVIRONMENT = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}


def mocked_aws_environment(monkeypatch: Any) -> None:
    """Region and dummy credentials for boto3 under moto's ``mock_aws`` (never a real account)."""
    for key, value in MOCKED_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)


def create_table_from_template(dynamodb: Any, logical_id: str, name: str) -> Any:
    from cfnlint.decode import cfn_yaml

    properties = cfn_yaml.load(str(ROOT / "template.yaml"))["Resources"][logical_id]["Properties"]
    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    table = dynamodb.create_table(TableName=name, **{k: properties[k] for k in keys if k in properties})
    return table
