"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import settings

# CI runs once per submission: there, property tests draw the same examples every time (a failure
# is then reproducible locally with CI=true); elsewhere they explore at random.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for talking to an in-process fake directly."""
    async with aiohttp.ClientSession() as s:
        yield s
