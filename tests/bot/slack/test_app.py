"""The Bolt app Signoff builds: started with the bot token in the environment, as in production, it warns of
nothing it does on purpose, and Bolt's other warnings still reach the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.runtime import build_runtime
from tests.support.harness import settings_for


async def test_the_token_bolt_reads_from_the_environment_is_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    caplog.set_level(logging.WARNING)
    runtime = await build_runtime(settings_for(tmp_path / "signoff.db", "http://127.0.0.1:9/api/"))
    try:
        logging.getLogger("slack_bolt.AsyncApp").warning("another warning of Bolt's")
    finally:
        await runtime.close()
    bolt = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    assert bolt == ["another warning of Bolt's"]
