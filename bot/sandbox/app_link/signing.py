"""Requests exactly as Slack sends them to an app: encoding and signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

VERIFICATION_TOKEN = "sandbox-verification-token"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

SlackRequest = tuple[bytes, dict[str, str]]


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """Return Slack's signature headers for a request body."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def form_request(fields: Mapping[str, str], secret: str, timestamp: int) -> SlackRequest:
    """Encode and sign a form body, as Slack sends slash commands and interactions."""
    body = urlencode(dict(fields)).encode()
    content_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return body, {**content_type, "User-Agent": USER_AGENT, **sign(body, secret, timestamp)}


def json_request(payload: Mapping[str, Any], secret: str, timestamp: int) -> SlackRequest:
    """Encode and sign a JSON body, as Slack sends Events API requests."""
    body = json.dumps(payload).encode()
    content_type = {"Content-Type": "application/json"}
    return body, {**content_type, "User-Agent": USER_AGENT, **sign(body, secret, timestamp)}


def interaction_request(payload: Mapping[str, Any], secret: str, timestamp: int) -> SlackRequest:
    """Encode and sign an interaction payload in its ``payload=`` form field."""
    return form_request({"payload": json.dumps(payload)}, secret, timestamp)
