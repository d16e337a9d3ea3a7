"""Base URL checks (no aiohttp here: the CLI imports this on every start)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["check_base_url"]


def check_base_url(url: str) -> str:
    """Return the normalised base URL, or raise ValueError saying what to fix.

    `http://` is refused unless the host is loopback: the token must never cross a network in clear.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--base-url {url!r} is not an http(s) URL, e.g. https://api.hubapi.com")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"--base-url {url!r} uses http:// to a non-loopback host; the token would travel "
            "unencrypted. Use https://, or http:// only for 127.0.0.1/localhost"
        )
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
