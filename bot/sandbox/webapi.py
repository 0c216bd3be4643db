"""The workspace's Web API over HTTP, with response URLs and, optionally, Socket Mode."""

from __future__ import annotations

import ipaddress
import json
import socket
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.sandbox.errors import InvalidAckError, LoopbackOnlyError, ResponseUrlError
from bot.sandbox.socket_mode import SOCKET_KEY, SocketModeHub
from bot.sandbox.workspace import Workspace

WORKSPACE_KEY = web.AppKey("workspace", Workspace)


def create_app(workspace: Workspace, socket_mode: SocketModeHub | None = None) -> web.Application:
    """Return an aiohttp application serving ``/api/{method}``, response URLs and optionally Socket Mode."""
    app = web.Application()
    app[WORKSPACE_KEY] = workspace
    if socket_mode is not None:
        socket_mode.install(app)
    app.router.add_route("GET", "/api/{method}", _api)
    app.router.add_route("POST", "/api/{method}", _api)
    app.router.add_post("/respond/{key}", _respond)
    return app


class WebApiServer:
    """A running sandbox Web API; point ``AsyncWebClient(base_url=server.url)`` at it."""

    def __init__(self, workspace: Workspace, runner: web.AppRunner, host: str, port: int) -> None:
        self.workspace = workspace
        self.host = host
        self.port = port
        self._runner = runner

    @property
    def root_url(self) -> str:
        """Return the server's base address, ending with ``/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def url(self) -> str:
        """Return the Web API base URL, ending with ``/api/``."""
        return f"{self.root_url}api/"

    async def close(self) -> None:
        """Stop serving."""
        await self._runner.cleanup()

    async def __aenter__(self) -> WebApiServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def start_webapi(
    workspace: Workspace, host: str = "127.0.0.1", port: int = 0, socket_mode: SocketModeHub | None = None
) -> WebApiServer:
    """Serve the workspace's Web API on a loopback address; port 0 picks a free port."""
    address = _loopback_address(host)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    runner = web.AppRunner(create_app(workspace, socket_mode), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    server = WebApiServer(workspace, runner, address, sock.getsockname()[1])
    workspace.base_url = server.root_url
    if socket_mode is not None:
        socket_mode.base_url = server.root_url
    return server


def _loopback_address(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise LoopbackOnlyError(f"{host!r} is not a loopback address") from None
    if not address.is_loopback:
        raise LoopbackOnlyError(f"{host!r} is not a loopback address")
    return str(address)


async def _api(request: web.Request) -> web.Response:
    params: dict[str, Any] = dict(request.query)
    try:
        params.update(await _body_params(request))
    except ValueError:
        return web.json_response({"ok": False, "error": "invalid_json"})
    token = _bearer_token(request)
    form_token = params.pop("token", None)
    hub = request.app.get(SOCKET_KEY)
    if request.match_info["method"] == "apps.connections.open" and isinstance(hub, SocketModeHub):
        status, body = hub.open_connection(token or form_token)
        return web.json_response(body, status=status)
    answer = await request.app[WORKSPACE_KEY].call(
        request.match_info["method"], params, token or form_token
    )
    if isinstance(answer.body, str):
        return web.Response(text=answer.body, status=answer.status, headers=answer.headers, content_type="text/plain")
    return web.json_response(answer.body, status=answer.status, headers=answer.headers)


async def _body_params(request: web.Request) -> dict[str, Any]:
    if request.method != "POST" or not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        body = json.loads(await request.text() or "{}")
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        return body
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


async def _respond(request: web.Request) -> web.Response:
    try:
        payload = json.loads(await request.text() or "{}")
    except ValueError:
        return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
    try:
        request.app[WORKSPACE_KEY].respond(request.match_info["key"], payload)
    except ResponseUrlError:
        return web.json_response({"ok": False, "error": "expired_url"}, status=404)
    except InvalidAckError as error:
        return web.json_response({"ok": False, "error": str(error)}, status=400)
    return web.json_response({"ok": True})
