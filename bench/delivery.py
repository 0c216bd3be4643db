"""Benchmark: the outbox delivering 1,000 DMs to 200 people against Slack's per-channel posting limit.

The sandbox Slack workspace runs in its own process and enforces `chat.postMessage` at one message per
second per conversation with bursts of two (`Workspace.enforce_post_rate`), answering 429 with
Retry-After beyond that. This process is Signoff's delivery: the messages are queued in the outbox of a
fresh database and one `Deliverer.drain()` delivers them. The sandbox then reports every message it
stored and every 429 it gave.

Five messages per conversation at that limit take at least 3 s (two at once, then one a second), so
the allowed rate is 1,000 / 3 s; the result is the achieved rate as a share of it (target at least 90 %),
with zero messages lost and zero duplicated. The nominal rate (one a second per conversation, no
burst: 200 messages a second) is shown too.

The figures are those of the median of three runs. Run with `python -m bench delivery`;
`SIGNOFF_BENCH_QUICK=1` sends 200 DMs to 40 people, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.common import Row, is_quick
from bot.runtime import Runtime, build_runtime
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.webapi import start_webapi
from bot.sandbox.workspace import Workspace
from bot.settings import Settings

NAME = "delivery"
ROOT = Path(__file__).resolve().parent.parent
PER_USER = 5
RATE_PER_S = 1.0
BURST = 2
TARGET_SHARE = 0.90


def user_ids(count: int) -> list[str]:
    """Return the bench's Slack user ids."""
    return [f"U0BENCH{i:04d}" for i in range(count)]


def allowed_seconds(per_conversation: int, rate_per_s: float = RATE_PER_S, burst: int = BURST) -> float:
    """Return the least time Slack's limit allows for posting this many messages to one conversation."""
    return max(0.0, (per_conversation - burst) / rate_per_s)


# the sandbox process


async def serve_sandbox(users: int) -> None:
    """Serve a workspace enforcing the posting limit; answer `report` on stdin with what it received."""
    workspace = Workspace()
    for user in user_ids(users):
        workspace.add_user(user.lower(), user_id=user)
    workspace.enforce_post_rate(per_channel_per_s=RATE_PER_S, burst=BURST)
    server = await start_webapi(workspace)
    print(json.dumps({"url": server.url}), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "report":
            posts = [(c.params.get("channel"), c.params.get("text"), c.time)
                     for c in workspace.calls("chat.postMessage") if c.status == 200]
            print(json.dumps({"posts": posts, "ratelimited": workspace.ratelimited_count()}), flush=True)
        elif line.strip() == "quit":
            break
    await server.close()


@contextlib.asynccontextmanager
async def sandbox_process(users: int) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """Start the sandbox process; yield its Web API URL and the process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.delivery", "sandbox", str(users), cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        yield json.loads(await process.stdout.readline())["url"], process
    finally:
        with contextlib.suppress(ConnectionError):
            assert process.stdin is not None
            process.stdin.write(b"quit\n")
            await process.stdin.drain()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def report(process: asyncio.subprocess.Process) -> dict[str, Any]:
    """Ask the sandbox what it received."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"report\n")
    await process.stdin.drain()
    return dict(json.loads(await process.stdout.readline()))


# Signoff's side


def bench_settings(db_path: Path, api_url: str) -> Settings:
    """Return the settings of the delivering Signoff (nothing read from the environment)."""
    values: dict[str, Any] = {
        "slack_bot_token": DEFAULT_TOKEN, "slack_signing_secret": "bench-secret", "slack_api_url": api_url,
        "database": str(db_path), "api_token": "bench", "port": 0, "tick_seconds": 3600,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def queue_dms(runtime: Runtime, users: list[str]) -> list[str]:
    """Queue PER_USER DMs to every user, interleaved; return their texts."""
    now = runtime.service.clock.now()
    texts = []
    async with runtime.db.unit_of_work() as repo:
        for round_ in range(PER_USER):
            for user in users:
                text = f"bench {round_} to {user}"
                await repo.enqueue("message", user, {"message": {"text": text}}, now, key=f"bench:{round_}:{user}")
                texts.append(text)
    return texts


async def measure(users: int) -> dict[str, Any]:
    """Deliver the DMs once; return the elapsed time and what the sandbox received."""
    with tempfile.TemporaryDirectory(prefix="signoff-bench-delivery-") as tmp:
        async with sandbox_process(users) as (url, process):
            runtime = await build_runtime(bench_settings(Path(tmp) / "delivery.db", url))
            try:
                texts = await queue_dms(runtime, user_ids(users))
                assert runtime.deliverer is not None
                started_s = time.monotonic()
                handled = await runtime.deliverer.drain()
                elapsed_s = time.monotonic() - started_s
            finally:
                await runtime.close()
            received = await report(process)
    return {"texts": texts, "handled": handled, "elapsed_s": elapsed_s, **received}


def rows_of(result: dict[str, Any], users: int) -> list[Row]:
    """Turn one measurement into report rows."""
    sent = len(result["texts"])
    got = Counter(text for _, text, _ in result["posts"])
    lost = sum(1 for text in result["texts"] if got[text] == 0)
    duplicated = sum(count - 1 for count in got.values() if count > 1)
    rate = sent / result["elapsed_s"]
    allowed = sent / allowed_seconds(PER_USER)
    share = rate / allowed
    case = f"{sent:,} DMs to {users} people, 1 msg/s/channel (burst {BURST})"
    return [
        {"benchmark": NAME, "case": f"{case}: rate", "value": round(rate, 1), "unit": "msg/s",
         "ratio": f"{share:.0%} of the allowed {allowed:.0f} msg/s; {rate / users:.2f}× the nominal 1 msg/s/channel",
         "target": f">= {TARGET_SHARE:.0%} of allowed", "ok": share >= TARGET_SHARE},
        {"benchmark": NAME, "case": f"{case}: elapsed", "value": round(result["elapsed_s"], 2), "unit": "s",
         "ratio": f"least allowed {allowed_seconds(PER_USER):.1f} s"},
        {"benchmark": NAME, "case": f"{case}: lost", "value": lost, "unit": "messages", "target": "0",
         "ok": lost == 0},
        {"benchmark": NAME, "case": f"{case}: duplicated", "value": duplicated, "unit": "messages", "target": "0",
         "ok": duplicated == 0},
        {"benchmark": NAME, "case": f"{case}: 429 answers", "value": result["ratelimited"], "unit": "answers"},
    ]


async def abench() -> list[Row]:
    """Run the delivery benchmark (the median of three runs; one run when quick)."""
    users, runs = (40, 1) if is_quick() else (200, 3)
    results = [await measure(users) for _ in range(runs)]
    results.sort(key=lambda r: r["elapsed_s"])
    return rows_of(results[len(results) // 2], users)


if __name__ == "__main__":
    if sys.argv[1:2] == ["sandbox"]:
        asyncio.run(serve_sandbox(int(sys.argv[2])))
    else:
        from bench.common import table_lines

        print("\n".join(table_lines(asyncio.run(abench()))))
