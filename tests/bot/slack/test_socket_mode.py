"""Socket Mode: with SLACK_APP_TOKEN set, Slack's requests arrive over a WebSocket instead of HTTP."""

from __future__ import annotations

from pathlib import Path

from bot.runtime import build_runtime
from bot.sandbox.app_link.events import slash_command_fields
from bot.sandbox.app_link.payloads import block_actions_payload
from bot.sandbox.socket_mode import APP_TOKEN, SocketModeHub
from bot.sandbox.webapi import start_webapi
from tests.bot.core.test_approval_flow import INVOICE, WORKFLOW
from tests.support.harness import API_TOKEN, make_workspace, settings_for


async def test_approval_click_and_command_over_socket_mode(tmp_path: Path) -> None:
    import httpx

    workspace, hub = make_workspace(), SocketModeHub()
    webapi = await start_webapi(workspace, socket_mode=hub)
    settings = settings_for(tmp_path / "s.db", webapi.url, slack_app_token=APP_TOKEN, slack_signing_secret=None)
    runtime = await build_runtime(settings)
    await runtime.serve()
    try:
        await hub.wait_connected()
        async with httpx.AsyncClient(base_url=runtime.url, headers={"Authorization": f"Bearer {API_TOKEN}"}) as api:
            assert (await api.post("/api/v1/workflows", json=WORKFLOW)).status_code == 201
            await api.put("/api/v1/records/invoice/INV-S", json=INVOICE)
            await api.post("/api/v1/records/invoice/INV-S/submit")
            dm = (await workspace.wait_for(lambda: workspace.dm_messages("U01AAA")))[0]
            click = block_actions_payload(workspace, "U01AAA", dm.channel, dm.ts, "approve")
            await hub.send("interactive", click, envelope_id="env-click-1")
            async with runtime.db.read() as repo:
                assert (await repo.inbox_counts()).get("queued", 0) + (await repo.inbox_counts()).get("done", 0) == 1
            await workspace.wait_for(lambda: workspace.message(dm.channel, dm.ts).edited)
            await hub.send("interactive", click, envelope_id="env-click-1")
            body = (await api.get("/api/v1/records/invoice/INV-S")).json()
            assert [v["approver"] for v in body["approval"]["votes"]] == ["U01AAA"]
            async with runtime.db.read() as repo:
                assert await repo.inbox_counts() == {"done": 1}
            assert not workspace.ephemerals("U01AAA"), "the redelivered envelope was not run again"
        ack = await hub.send("slash_commands", slash_command_fields(workspace, "U0OUT", "/signoff", "help"))
        assert ack is not None and "/signoff" in str(ack)
    finally:
        await runtime.close()
        await hub.close()
        await webapi.close()


async def test_wrong_app_token_is_refused(tmp_path: Path) -> None:
    hub = SocketModeHub()
    assert hub.open_connection("xapp-wrong") == (200, {"ok": False, "error": "invalid_auth"})
    assert hub.open_connection(None)[1]["error"] == "not_authed"
