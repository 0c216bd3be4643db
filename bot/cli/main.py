"""The `signoff` command line: run, demo and workflow files."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.cli.imports import add_import_command, run_import_command
from bot.cli.migrate import add_migrate_command, run_migrate_command
from bot.cli.tokens import add_tokens_command, run_tokens_command
from bot.cli.workflow_files import add_workflow_commands, run_workflow_command
from bot.core.reminders import add_remind_command, run_remind_command
from bot.errors import SettingsError
from bot.settings import Settings, load_settings
from storage.errors import StorageError


def _settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


async def _run(settings: Settings) -> None:
    from bot.runtime import build_runtime, freeze_startup_heap

    runtime = await build_runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runtime.serve()
        freeze_startup_heap()
        logging.getLogger("signoff").warning("Signoff listening on %s", runtime.url)
        await stop.wait()
        if settings.drain_s > 0:
            logging.getLogger("signoff").warning("Signoff draining for %g s: /healthz answers 503, requests are still "
                                                 "served (signal again to stop now)", settings.drain_s)
            stop.clear()
            await runtime.drain(settings.drain_s, stop)
        logging.getLogger("signoff").warning("Signoff stopping (up to %g s for work in hand)", settings.shutdown_s)
    finally:
        await runtime.close()
    logging.getLogger("signoff").warning("Signoff stopped")


def _run_or_refuse(settings: Settings) -> int:
    """Run the bot; a database it cannot use (out of date, too new) is refused with a clear message (exit 2)."""
    try:
        asyncio.run(_run(settings))
    except (StorageError, SettingsError) as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `signoff` command."""
    parser = argparse.ArgumentParser(prog="signoff", description="Approvals, reminders and escalations in Slack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot with the settings from the environment")
    sub.add_parser("demo", help="run in sandbox mode with a local Slack workspace at /sandbox")
    add_workflow_commands(sub)
    add_remind_command(sub)
    add_tokens_command(sub)
    add_migrate_command(sub)
    add_import_command(sub)
    args = parser.parse_args(argv)
    if args.command == "workflows":
        return run_workflow_command(args)
    if args.command == "remind":
        return run_remind_command(args)
    if args.command == "tokens":
        return run_tokens_command(args)
    if args.command == "migrate":
        return run_migrate_command(args)
    if args.command == "import":
        return run_import_command(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # two lines a second for the watch job otherwise
    if args.command == "run":
        return _run_or_refuse(_settings_or_exit())
    if args.command == "demo":
        from bot.cli.demo import main as demo_main

        return demo_main(_settings_or_exit(sandbox=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
