"""REST API tokens: create (only the SHA-256 is kept), revoke, note when one was last used."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.errors import Conflict, NotFound, Unprocessable
from storage.models import ENV_TOKEN_NAME, ApiToken, hash_token, new_token
from storage.ports import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOUCH_EVERY = timedelta(minutes=1)


def check_name(name: str) -> str:
    """Refuse a token name that is reserved or not 1-64 letters, digits, `_`, `.` or `-`."""
    if name == ENV_TOKEN_NAME:
        raise Unprocessable(f"the name {ENV_TOKEN_NAME!r} is SIGNOFF_API_TOKEN's; choose another")
    if not _NAME.match(name):
        raise Unprocessable("a token name is 1-64 letters, digits, '_', '.' or '-', starting with a letter "
                            "or digit")
    return name


async def create_token(db: Store, name: str, role: str, now: datetime) -> str:
    """Store a new token under `name` with `role`; return the token (it cannot be shown again)."""
    token = new_token()
    async with db.unit_of_work() as repo:
        if not await repo.add_api_token(check_name(name), role, hash_token(token), now):
            raise Conflict(f"a token named {name!r} exists (revoked tokens keep their name)")
    return token


async def revoke_token(db: Store, name: str, now: datetime) -> None:
    """Revoke the active token named `name`."""
    async with db.unit_of_work() as repo:
        if not await repo.revoke_api_token(name, now):
            raise NotFound(f"no active token named {name!r}", "token", name)


async def touch_token(db: Store, token: ApiToken, now: datetime) -> None:
    """Note that a token was used, at most once a minute (so reads do not turn into writes)."""
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        async with db.unit_of_work() as repo:
            await repo.touch_api_token(token.name, now)
