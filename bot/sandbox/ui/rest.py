"""Signoff's REST API as the page's tools call it: with the sandbox's token, as an integration would."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.errors import ApiError

CLOCK_TIMEOUT_S = 60.0
FIRST_NEW_NUMBER = 3001
MAX_ID_TRIES = 200


class RestApi:
    """Calls Signoff's REST API at one address with one token, raising its errors as API errors."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token

    async def call(self, method: str, path: str, body: Any) -> dict[str, Any]:
        """Call one endpoint and return its JSON object."""
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=CLOCK_TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, f"{self.url}{path}", json=body, headers=headers) as response,
        ):
            text, status = await response.text(), response.status
        answer = _json_object(text)
        if status == 404 and path == "/api/v1/clock":
            raise ApiError(501, "clock_unavailable", "the test clock API (POST /api/v1/clock) is not available")
        if status >= 400:
            found = answer.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            raise ApiError(status, str(error.get("code", "error")), str(error.get("message", f"{path}: {status}")),
                           list(error.get("details") or []))
        return answer

    async def exists(self, path: str) -> bool:
        """Tell whether a GET of the path finds something."""
        try:
            await self.call("GET", path, None)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def free_id(self, record_type: str, prefix: str) -> str:
        """Return the first document number from 3001 on that no record of the type uses yet."""
        for number in range(FIRST_NEW_NUMBER, FIRST_NEW_NUMBER + MAX_ID_TRIES):
            candidate = f"{prefix}-{number}"
            if not await self.exists(f"/api/v1/records/{record_type}/{candidate}"):
                return candidate
        raise ApiError(409, "conflict", "no free document number; give one")


def _json_object(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
