"""verify's batch read: the shared `hubspot/assoc_read.py` request, for one chunk."""

from __future__ import annotations

from typing import Any

from ..hubspot.assoc_read import ReadFailed, read_body, read_path
from ..hubspot.assoc_read import read_page as _read_page
from ..hubspot.caller import Caller
from .chunks import Chunk

__all__ = ["Unchecked", "read_body", "read_page", "read_path"]

Unchecked = ReadFailed
"""A batch read failed for good; the rows it was to decide stay unchecked."""


async def read_page(caller: Caller, body: bytes, chunk: Chunk) -> dict[str, Any]:
    """One batch read of the chunk's pair, retried by the caller (see `hubspot/assoc_read.read_page`)."""
    return await _read_page(caller, body, chunk.from_type, chunk.to_type)
