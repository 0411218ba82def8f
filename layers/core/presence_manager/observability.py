"""One Logger and Metrics for the whole service (Powertools), shared by every handler.

No in-process tracing SDK: Lambda active tracing and Step Functions tracing write the service segments, and the
Logger puts the invocation's ``xray_trace_id`` (from ``_X_AMZN_TRACE_ID``) on every log line, so a trace and its
logs join. Why, and the alternatives: README, "Tracing"."""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

SERVICE = "genesys-presence-manager"
NAMESPACE = "GenesysPresenceManager"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
