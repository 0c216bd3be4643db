"""`signoff demo`: the sandbox with a small finance team, its workflows and a dozen documents."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import sys
from pathlib import Path

from bot.cli.demo_data import BOB, CONTACTS
from bot.cli.demo_seed import seed
from bot.runtime import freeze_startup_heap
from bot.sandbox.run import Sandbox, start_sandbox
from bot.settings import Settings

log = logging.getLogger(__name__)

DEMO_DATABASE = "./signoff-demo.db"


async def start_demo(
    database: str | Path = DEMO_DATABASE, port: int = 3000, *, base: Settings | None = None,
    is_persistent: bool = True,
) -> Sandbox:
    """Start the sandbox and seed it (once per database)."""
    sandbox = await start_sandbox(database, port, base=base, is_persistent=is_persistent, default_viewer=BOB)
    sandbox.ui.contacts = [{"kind": kind.value, "id": contact_id, "name": data["name"]}
                           for kind, contact_id, data in CONTACTS]
    deliverer = sandbox.runtime.deliverer
    try:
        report = await seed(sandbox.runtime.service, deliverer.drain if deliverer else None)
    except BaseException:
        await sandbox.close()
        raise
    if report.documents:
        log.info("seeded %d documents, %d workflows, %d contacts",
                 len(report.documents), len(report.workflows), report.contacts)
    return sandbox


async def run_demo(base: Settings) -> None:
    """Run the demo until interrupted, printing the address of the web client."""
    sandbox = await start_demo(DEMO_DATABASE, base.port, base=base)
    freeze_startup_heap()
    stop = asyncio.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        # Registered after the HTTP server started, so these win over the server's own handlers.
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(stop_signal, stop.set)
    print(f"Signoff sandbox: open {sandbox.url} (Ctrl-C to stop)", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.close()


def main(base: Settings) -> int:
    """Run `signoff demo`; return the exit status."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP catcher's every command
    try:
        asyncio.run(run_demo(base))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"signoff: port {base.port} is in use; set SIGNOFF_PORT to another port", file=sys.stderr)
        return 1
    return 0
