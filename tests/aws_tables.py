"""Creates the template's DynamoDB tables (from template.yaml itself) in a moto-mocked account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def create_table_from_template(dynamodb: Any, logical_id: str, name: str) -> Any:
    from cfnlint.decode import cfn_yaml

    properties = cfn_yaml.load(str(ROOT / "template.yaml"))["Resources"][logical_id]["Properties"]
    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    table = dynamodb.create_table(TableName=name, **{k: properties[k] for k in keys if k in properties})
    return table
