"""A local Slack workspace that plays Slack's Web API and sends signed requests to the app."""

from __future__ import annotations

from bot.sandbox.signing import RequestFactory, sign
from bot.sandbox.validation import validate_blocks, validate_message, validate_view
from bot.sandbox.webapi import AppLink, AppReply, WebApiServer, deliver, start_webapi
from bot.sandbox.workspace import Call, Change, Conversation, Message, User, Workspace

__all__ = [
    "AppLink",
    "AppReply",
    "Call",
    "Change",
    "Conversation",
    "Message",
    "RequestFactory",
    "User",
    "WebApiServer",
    "Workspace",
    "deliver",
    "sign",
    "start_webapi",
    "validate_blocks",
    "validate_message",
    "validate_view",
]
