"""API tokens on the command line: `signoff tokens create NAME --role ROLE`, `list` and `revoke NAME`.

A token is printed once, when it is created; only its SHA-256 is stored. `SIGNOFF_API_TOKEN`, when
set, is one more admin token named `env`, managed through the environment rather than here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from bot.cli.workflow_files import file_settings
from bot.core.tokens import create_token, revoke_token
from bot.errors import Refused, SettingsError
from storage import open_store
from storage.errors import StorageError
from storage.models import ROLES, ApiToken
from storage.ports import Store


def add_tokens_command(sub: Any) -> None:
    """Register `signoff tokens create|list|revoke` on the command line parser."""
    tokens = sub.add_parser("tokens", help="create, list and revoke REST API tokens")
    actions = tokens.add_subparsers(dest="tokens_command", required=True)
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("name", help="a name for the token, e.g. the integration that uses it")
    create.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    actions.add_parser("list", help="list tokens: name, role, created, last used, revoked")
    revoke = actions.add_parser("revoke", help="revoke a token by name; it is refused from then on")
    revoke.add_argument("name")
    for action in (create, actions.choices["list"], revoke):
        action.add_argument("--database", help="SQLite file (default: SIGNOFF_DATABASE)")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def tokens_table(tokens: list[ApiToken]) -> str:
    """Render tokens as an aligned text table."""
    rows = [("NAME", "ROLE", "CREATED", "LAST USED", "REVOKED")]
    rows += [(t.name, t.role, _when(t.created_at), _when(t.last_used_at), _when(t.revoked_at)) for t in tokens]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


async def _command(args: argparse.Namespace, db: Store) -> str:
    now = datetime.now(UTC)
    if args.tokens_command == "create":
        return await create_token(db, args.name, args.role, now)
    if args.tokens_command == "revoke":
        await revoke_token(db, args.name, now)
        return f"revoked {args.name}"
    async with db.read() as repo:
        return tokens_table(await repo.api_tokens())


async def _run(args: argparse.Namespace) -> str:
    db = await open_store(file_settings(args.database).database, migrate=False, create=False)
    try:
        return await _command(args, db)
    finally:
        await db.close()


def run_tokens_command(args: argparse.Namespace) -> int:
    """Run `signoff tokens …`; print the result, or the problem and return 1 (2 for a bad setting)."""
    try:
        print(asyncio.run(_run(args)))
    except Refused as exc:
        print(f"signoff: {exc.message}", file=sys.stderr)
        return 1
    except (SettingsError, StorageError) as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    return 0
