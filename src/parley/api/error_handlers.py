"""One place that turns every failure into the contract's ``{"error", "detail"}`` body."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from parley.core.errors import NotAuthenticated, ParleyError, RateLimited

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
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated:
        return await _internal_error(_request, exc)
    log.warning("database unavailable: %s", exc)
    return error_response(
        503,
        "unavailable",
        "The database is unreachable; try again shortly.",
        headers={"Retry-After": "1"},
    )


async def _internal_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette re-raises the exception after this response, so the server logs it.
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _parley_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)
