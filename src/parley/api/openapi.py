"""The OpenAPI document as served: FastAPI's, telling the truth about malformed requests.

FastAPI documents every 422 with its own ``HTTPValidationError`` body, but Parley answers invalid
input with the contract's error body (see ``error_handlers``); and FastAPI answers 400 to a body
it cannot even parse (JSON that is not UTF-8, a broken form) without documenting it, nor the
408 and 413 of a body that comes too slowly or is too large.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["install_openapi"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


_INVALID_INPUT = _error("Invalid input; `fields` lists each offending field (`validation_error`)")
_UNREADABLE_BODY = _error("The body cannot be parsed at all (`bad_request`)")
_BODY_TOO_SLOW = _error("The body did not arrive in time (`request_timeout`)")
_BODY_TOO_LARGE = _error("The body is larger than allowed (`too_large`)")
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _describe_malformed_requests(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _describe_malformed_requests(document: dict[str, Any]) -> None:
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            # FastAPI adds a 422 exactly where a request can fail validation: keep where, fix what.
            if "422" in responses:
                responses["422"] = _INVALID_INPUT
            if "requestBody" in operation:
                responses.setdefault("400", _UNREADABLE_BODY)
                # Every body is bounded in size and time (``api/body_limit.py``).
                responses.setdefault("408", _BODY_TOO_SLOW)
                responses.setdefault("413", _BODY_TOO_LARGE)
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
