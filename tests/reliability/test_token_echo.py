"""Issue 12: a server that echoes the `Authorization` header back in every answer (message, category,
correlation ID, header, batch errors, read answers). Whatever command talks to it, the token appears in
no output, summary, message, ledger column, failed-rows CSV or exception text.

Every command that sends requests belongs in COMMANDS: a new command adds its line here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

import bulkassoc
from bulkassoc import RunConfig, VerifyConfig

from .._support import Reply, ScriptedServer
from ._harness import FAST, TOKEN, arun, assert_no_token, write_links


def _echo(status: int, request: web.Request, **extra: object) -> Reply:
    auth = request.headers.get("Authorization", "")
    body: dict[str, object] = {"status": "error", "category": f"VALIDATION_ERROR {auth}", "correlationId": auth,
                               "message": f"request with '{auth}' rejected", **extra}
    return Reply(status, body, headers={"X-HubSpot-Correlation-Id": auth})


def echoing(forbid: bool) -> ScriptedServer:
    """Echo the credentials everywhere; `forbid`: writes and reads answer 403 (a stop), else 400s, 207s
    and one 503 first (a retry)."""

    def script(n: int, request: web.Request) -> Reply:
        auth = request.headers.get("Authorization", "")
        path = request.path
        if path.startswith("/account-info"):
            return Reply(200, {"portalId": 1, "timeZone": auth})
        if path.endswith("/labels"):
            return Reply(200, {"results": [{"typeId": 1, "label": auth, "category": "HUBSPOT_DEFINED"}]})
        if forbid:
            return _echo(403, request, context={"requiredScopes": [auth]})
        if n % 7 == 3:
            return _echo(503, request)
        if path.endswith("/batch/create"):
            return Reply(207, {"status": "COMPLETE", "results": [], "numErrors": 1, "errors": [
                {"status": "error", "category": auth, "message": f"{auth} is not valid",
                 "context": {"fromObjectId": [auth]}}]}, headers={"X-HubSpot-Correlation-Id": auth})
        if path.endswith("/batch/read"):
            return Reply(200, {"status": "COMPLETE", "results": [{"from": {"id": auth}, "to": []}]})
        return _echo(400, request)

    return ScriptedServer(script)


COMMANDS = {
    "run-v3": ("run", "--from-type", "partner_services"),
    "run-v4": ("run", "--from-type", "partner_services", "--api", "v4"),
    "run-batch": ("run", "--from-type", "partner_services", "--mode", "batch", "--batch-size", "5"),
    "verify": ("verify", "--from-type", "partner_services"),
}
RETRIES = ("--max-attempts", "2")


@pytest.mark.parametrize("forbid", [False, True], ids=["rejected", "forbidden"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_token_echoed_by_the_server_never_comes_out(tmp_path: Path, command: str, forbid: bool) -> None:
    src = write_links(tmp_path / "links.csv", 12)
    ledger = tmp_path / "links.sqlite"
    failed_csv = tmp_path / "failed.csv"
    args = COMMANDS[command]
    async with echoing(forbid) as server:
        extra = ("--ledger", str(ledger)) if args[0] == "run" else ("--missing-out", str(tmp_path / "missing.csv"))
        fast = FAST if args[0] == "run" else ("--rate", "5000/1s", "--json")
        result = await arun(args[0], str(src), *args[1:], *extra, "--base-url", server.url, *fast, *RETRIES,
                            timeout=60)
    assert any(TOKEN in s.auth for s in server.seen), "the server must have seen (and echoed) the token"
    assert result.returncode in (1, 3), result.stderr
    texts = [result.stdout, result.stderr]
    files = [p for p in (ledger, failed_csv, tmp_path / "missing.csv") if p.exists()]
    if ledger.exists():
        report = await arun("report", str(ledger), "--failed-out", str(failed_csv), "--json", timeout=30)
        texts += [report.stdout, report.stderr]
        files.append(failed_csv)
    assert_no_token(texts=texts, files=files)


@pytest.mark.parametrize("forbid", [False, True], ids=["rejected", "forbidden"])
async def test_token_echoed_never_reaches_library_results(tmp_path: Path, forbid: bool) -> None:
    """The Python API: summaries (every field) and the exceptions it raises carry no token either."""
    src = write_links(tmp_path / "links.csv", 6)
    fast = bulkassoc.RetryPolicy(max_attempts=2, backoff_base=0.0)
    async with echoing(forbid) as server:
        summaries: list[object] = [
            await bulkassoc.run_async(RunConfig(src, from_type="partner_services", token=TOKEN, rate=None,
                                                base_url=server.url, retry=fast, ledger=tmp_path / "a.sqlite")),
            await bulkassoc.run_async(RunConfig(src, from_type="partner_services", token=TOKEN, rate=None,
                                                base_url=server.url, retry=fast, mode="batch",
                                                ledger=tmp_path / "b.sqlite")),
            await bulkassoc.verify_async(VerifyConfig(src, from_type="partner_services", token=TOKEN, rate=None,
                                                      base_url=server.url, retry=fast)),
        ]
    for summary in summaries:
        assert TOKEN not in repr(summary)
    report = bulkassoc.read_report(tmp_path / "a.sqlite")
    assert TOKEN not in repr(report)
    assert_no_token(files=[tmp_path / "a.sqlite", tmp_path / "b.sqlite"])
