"""The click shell: `bulkassoc run | report | verify | demo | fake-hubspot`."""

from .main import main

__all__ = ["main"]
