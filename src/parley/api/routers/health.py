"""Liveness and readiness probes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from parley.api.deps import StateDep
from parley.core.errors import NotAuthenticated
from parley.db.migrate import schema_state

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers at the schema this code needs, and Redis (when "
    "configured) answers",
    responses={503: {"description": "A dependency is unreachable"}},
)
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        schema = await schema_state(state.engine)
        checks["database"] = "ok"
        # A schema behind the code fails every request that touches what changed.
        checks["schema"] = "ok" if schema.current else schema.describe()
    except Exception as error:  # noqa: BLE001  (any failure means not ready)
        checks["database"] = f"unreachable: {type(error).__name__}"
    if state.settings.redis_url is not None:
        try:
            await state.broker.ping()
            checks["redis"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["redis"] = f"unreachable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={401: {"description": "PARLEY_METRICS_TOKEN is set and was not presented"}},
)
async def metrics(
    state: StateDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    expected = state.settings.metrics_token
    if expected is not None and not _presents(authorization, expected.get_secret_value()):
        raise NotAuthenticated("GET /metrics needs the metrics token as a bearer token.")
    figures = state.metrics.render(
        await state.queue.stats(), broker_reconnects=state.broker.reconnects
    )
    return Response(figures, media_type=CONTENT_TYPE_LATEST)


def _presents(authorization: str | None, token: str) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    # Compared in constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), token.encode())
