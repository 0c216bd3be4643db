"""A local Slack workspace that plays Slack's Web API and sends signed requests to the app."""

from __future__ import annotations

from bot.sandbox.app_link.factory import RequestFactory
from bot.sandbox.app_link.link import AppLink, AppReply, deliver
from bot.sandbox.app_link.signing import sign
from bot.sandbox.blockkit.validation import validate_blocks, validate_message, validate_view
from bot.sandbox.state.model import Call, Change, Conversation, Message, User
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace

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
