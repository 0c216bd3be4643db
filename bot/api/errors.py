"""The one place a refusal becomes an HTTP answer: the status of each refusal, in the JSON error envelope."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from bot.errors import ApiError, Conflict, NotFound, Refused, Unprocessable, error_body

HTTP_STATUS: dict[type[Refused], int] = {NotFound: 404, Conflict: 409, Unprocessable: 422}


def http_status(exc: Refused) -> int:
    """Return the HTTP status of a refusal (a refusal of an unmapped kind is a conflict with the current state)."""
    for kind in type(exc).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 409


def error_response(exc: Refused | ApiError) -> JSONResponse:
    """Answer a refusal with its status and the JSON error envelope."""
    status = exc.status if isinstance(exc, ApiError) else http_status(exc)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=status)
