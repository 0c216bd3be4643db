"""What every REST route depends on: the services, the bearer token and its role, the audit of writes."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from bot.core.service import Signoff
from bot.core.tokens import touch_token
from bot.errors import ApiError, Unprocessable
from engine.limits import JsonNumber, is_storable_text, unstorable_path
from storage.models import ENV_TOKEN_NAME, ApiToken, hash_token
from storage.ports import Repository

ROLES_KEY = "x-signoff-roles"
API_PREFIX = "/api/v1/"
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_TOKEN_CHARS = 200
MAX_REF_CHARS = 200

# A path id of something to read or act on; `Id` (engine.limits) is what a new document or contact may use.
Ref = Annotated[str, Path(min_length=1, max_length=MAX_REF_CHARS)]


class ExactNumbersRequest(Request):
    """A request whose JSON body keeps each number as it was written (a decimal is read from its digits)."""

    async def json(self) -> Any:
        """Return the parsed body; a number with a fraction or an exponent is a `JsonNumber`."""
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=JsonNumber)
        return self._json


class ExactNumbersRoute(APIRoute):
    """A REST route that reads its JSON body with `ExactNumbersRequest`: money sent as a JSON number stays exact."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so that it reads the body exactly."""
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactNumbersRequest(request.scope, request.receive))

        return exact


def service_of(request: Request) -> Signoff:
    """Return the application services of the app serving the request."""
    service: Signoff = request.app.state.service
    return service


@dataclass(frozen=True)
class Caller:
    """Who a REST request acts as: the name and role of its bearer token."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """Return how the audit trail names this caller."""
        return f"token:{self.name}"


def allow(*roles: str) -> dict[str, Any]:
    """Return the `openapi_extra` that lets these roles (and admin) call an operation."""
    return {ROLES_KEY: ["admin", *roles]}


RECORDS_READ = allow("integration", "read")
RECORDS_WRITE = allow("integration")


def default_roles(methods: Iterable[str]) -> list[str]:
    """Return who may call an operation that names no roles: admin, and read for a GET."""
    return ["admin", "read"] if set(methods) <= READ_METHODS else ["admin"]


def declare_roles(routes: Iterable[BaseRoute]) -> None:
    """Name in each REST operation's OpenAPI entry (`x-signoff-roles`) the roles that may call it."""
    for route in routes:
        if isinstance(route, APIRoute) and route.path.startswith(API_PREFIX):
            extra = route.openapi_extra or {}
            route.openapi_extra = extra if ROLES_KEY in extra else {**extra, ROLES_KEY: default_roles(route.methods)}


def allowed_roles(request: Request) -> list[str]:
    """Return the roles that may call the request's operation: admin, and read for GETs, unless widened."""
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    if ROLES_KEY in extra:
        return list(extra[ROLES_KEY])
    return default_roles([request.method])


async def _authenticate(request: Request) -> tuple[Caller, ApiToken | None]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    service = service_of(request)
    expected = service.settings.api_token
    if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return Caller(ENV_TOKEN_NAME, "admin"), None
    found = None
    if token and len(token) <= MAX_TOKEN_CHARS:
        async with service.db.read() as repo:
            found = await repo.api_token_by_hash(hash_token(token))
    if found is None or not found.is_active:
        raise ApiError(401, "unauthorized", "missing, unknown or revoked bearer token")
    return Caller(found.name, found.role), found


def _audit_write(request: Request, caller: Caller) -> Callable[[Repository], Awaitable[None]]:
    async def run(repo: Repository) -> None:
        await repo.audit(service_of(request).clock.now(), caller.actor, "api_write", ("api_token", caller.name),
                         detail={"method": request.method, "path": request.url.path})

    return run


async def require_token(request: Request) -> AsyncIterator[Caller]:
    """Authenticate the bearer token, check its role may call the operation, and audit what it writes."""
    caller, stored = await _authenticate(request)
    if caller.role not in allowed_roles(request):
        raise ApiError(403, "forbidden", f"a token with the {caller.role} role may not {request.method} "
                       f"{request.url.path}")
    if stored is not None:
        await touch_token(service_of(request).db, stored, datetime.now(UTC))
    request.state.caller = caller
    if request.method in READ_METHODS:
        yield caller
        return
    with service_of(request).db.carrying(_audit_write(request, caller)):
        yield caller


async def refuse_unstorable_text(request: Request) -> None:
    """Refuse (422) a request whose path, query or JSON body holds text no database stores (NUL, lone surrogates)."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    found = next((key for key, value in params if not is_storable_text(f"{key}{value}")), None)
    if found is None and request.method not in READ_METHODS and await request.body():
        try:
            found = unstorable_path(await request.json())
        except (ValueError, RecursionError):
            return  # not JSON: the route refuses it as it reads it
    if found is not None:
        raise ApiError(422, "invalid", "text may hold neither NUL characters nor lone surrogates",
                       [{"path": found, "message": "remove NUL characters and lone surrogates"}])


def token_actor(request: Request) -> str:
    """Return the audit actor of the request's token (`token:NAME`)."""
    caller: Caller = request.state.caller
    return caller.actor


def json_object(data: Any) -> dict[str, Any]:
    """Return a body that must be a JSON object; Unprocessable otherwise."""
    if not isinstance(data, dict):
        raise Unprocessable("expected a JSON object", [{"path": "(body)", "message": "expected an object"}])
    return data


def known_keys(data: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """Return a body that must be a JSON object of `allowed` keys only: a misspelt key is 422, not read as left out."""
    body = json_object(data)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        use = f"use {', '.join(allowed[:-1])} and {allowed[-1]}" if len(allowed) > 1 else f"use {''.join(allowed)}"
        details = [{"path": key, "message": f"unknown key; {use}"} for key in unknown]
        raise Unprocessable(f"unknown key {unknown[0]!r}", details)
    return body
