"""One place that turns every failure into the contract's ``{"error", "detail"}`` body."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from parley.core.errors import NotAuthenticated, ParleyError, RateLimited
from parley.db.outage import DATABASE_UNREACHABLE

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    fields: list[dict[str, object]] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"error": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers=headers)


async def _parley_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParleyError)  # noqa: S101
    headers: dict[str, str] = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(exc.status_code, exc.code, exc.detail, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = exc.errors()
    unparsable = next((error for error in errors if error["type"] == "json_invalid"), None)
    if unparsable is not None:
        # Not a field's fault: the body as a whole could not be read.
        reason = unparsable.get("ctx", {}).get("error", "it could not be parsed")
        position = unparsable["loc"][-1]
        return error_response(
            400,
            "bad_request",
            f"The request body is not valid JSON: {reason} (at character {position}).",
        )
    fields: list[dict[str, object]] = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors
    ]
    names = ", ".join(_field_name(error["loc"]) for error in errors)
    return error_response(422, "validation_error", f"Invalid input: {names}.", fields=fields)


def _field_name(loc: Sequence[object]) -> str:
    # ("body", "username") -> "username"; a body that is not JSON at all -> "body".
    return ".".join(str(part) for part in loc[1:]) or str(loc[0])


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_")
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    return error_response(exc.status_code, code, detail, headers=exc.headers)


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return error_response(
        503,
        "unavailable",
        "The database is unreachable; try again shortly.",
        headers={"Retry-After": "1"},
    )


async def _internal_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Reached only for a fault outside ``RequestObservability``, which answers the others
    # itself (with the request id). Either way Starlette raises the exception on and the
    # server logs it with its traceback; no other handler may answer a server fault, for a
    # fault answered by a handler is never logged.
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _parley_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for outage in DATABASE_UNREACHABLE:
        app.add_exception_handler(outage, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)
