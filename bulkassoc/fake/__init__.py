"""A local HubSpot for tests, benchmarks and the demo (`bulkassoc fake-hubspot`)."""

from .server import FakeConfig, FakeHubSpot

__all__ = ["FakeConfig", "FakeHubSpot"]
