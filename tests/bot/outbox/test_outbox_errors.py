"""How a failed delivery is classified: Permanent, Retry (with its wait), Throttled after a 429, or a bug."""

from __future__ import annotations

from typing import Any

import pytest
from aiosmtplib import SMTPServerDisconnected
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import UndeliverableError
from bot.outbox.errors import MAX_BACKOFF_S, Permanent, Retry, Throttled, backoff_s, classify


def slack_failure(status: int, data: Any, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(client=None, http_verb="POST", api_url="https://slack.com/api/chat.postMessage",
                                  req_args={}, data=data, headers=headers or {}, status_code=status)
    return SlackApiError("failed", response)


def test_what_retrying_cannot_help_is_permanent() -> None:
    assert isinstance(classify(slack_failure(200, {"ok": False, "error": "channel_not_found"})), Permanent)
    assert isinstance(classify(UndeliverableError("no approval request AR-1")), Permanent)
    refused = Permanent("e-mail is off")
    assert classify(refused) is refused


def test_a_rate_limit_holds_the_lane_for_retry_after() -> None:
    verdict = classify(slack_failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}))
    assert isinstance(verdict, Throttled) and verdict.defer_s == 3.0 and str(verdict) == "ratelimited"
    assert classify(slack_failure(429, "not json", {"Retry-After": "soon"})).defer_s == 1.0  # type: ignore[union-attr]


@pytest.mark.parametrize("failure", [
    slack_failure(503, "<html>down</html>"), slack_failure(200, {"ok": False, "error": "internal_error"}),
    SMTPServerDisconnected("gone"), ConnectionError("reset"), TimeoutError(),
])
def test_outages_are_retried_with_backoff(failure: Exception) -> None:
    verdict = classify(failure)
    assert type(verdict) is Retry and verdict.wait_s(3) == backoff_s(3)


def test_a_bug_is_not_a_delivery_failure() -> None:
    assert classify(ZeroDivisionError("a bug")) is None


def test_a_handler_may_ask_for_its_wait() -> None:
    assert Retry("busy", defer_s=90).wait_s(1) == 90
    assert Retry().wait_s(40) == MAX_BACKOFF_S
