"""genesys-presence-manager core library (shipped as the Lambda layer)."""

__version__ = "0.1.0"
