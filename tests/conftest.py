"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for talking to an in-process fake directly."""
    async with aiohttp.ClientSession() as s:
        yield s
