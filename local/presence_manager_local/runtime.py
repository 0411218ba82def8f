"""The local runtime's entry points (see emulation.py)."""

from presence_manager_local.emulation import LocalRuntime, serve

__all__ = ["LocalRuntime", "serve"]
