"""Genesys Cloud API: typed client and payload models (JSON names as in the official SDK's attribute_map)."""
