"""One Logger, Tracer and Metrics for the whole service (Powertools), shared by every handler."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "genesys-presence-manager"
NAMESPACE = "GenesysPresenceManager"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
