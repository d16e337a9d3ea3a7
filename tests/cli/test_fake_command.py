"""`fake-hubspot` (bulkassoc.cli.fake_command): the command prints its URL, serves, stops on SIGTERM, and
refuses bad options with one line."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from bulkassoc.cli.fake_command import fake_hubspot_command

REPO = Path(__file__).resolve().parents[2]
PATH = "/crm/v3/objects/{}/{}/associations/{}/{}/{}"
PS_TO_CONTACT = PATH.format("partner_services", "{}", "contacts", "{}", "{}")


# -- the command ---------------------------------------------------------------------------------------


async def test_command_prints_its_url_serves_and_stops_on_sigterm() -> None:
    code = "from bulkassoc.cli.fake_command import fake_hubspot_command; fake_hubspot_command()"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, "--port", "0", "--token", "t0k", "--rate", "5/1s",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        match = re.fullmatch(r"fake HubSpot listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        async with aiohttp.ClientSession() as session, session.put(
                match[1] + PS_TO_CONTACT.format(1, 2, 1), headers={"Authorization": "Bearer t0k"}) as r:
            assert (r.status, r.headers["X-HubSpot-RateLimit-Max"]) == (200, "5")
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert "fake HubSpot stopped: 1 requests, 1 associations stored" in err.decode()


@pytest.mark.parametrize(("args", "message"), [
    (["--rate", "5/xs"], "Invalid value for '--rate'"),
    (["--fail-rate", "0.8", "--lock-rate", "0.5"], "must not exceed 1"),
    (["--scopes", "contacts,not a type"], "Invalid value for '--scopes'"),
    (["--token", " "], "Invalid value for '--token'"),
    (["--port", "70000"], "Invalid value for '--port'"),
])
def test_command_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(fake_hubspot_command, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
