"""AWS answers the workflow treats as transient: throttling becomes ``AwsThrottled``, which the state machine
retries (boto3 has already retried it inside the call)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from presence_manager.errors import AwsThrottled

THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling"}
)


@contextmanager
def throttling_is_transient(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in THROTTLING_CODES:
            raise AwsThrottled(f"{what} was throttled by AWS ({code})", awsErrorCode=code) from error
        raise
