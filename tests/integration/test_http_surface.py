"""The parts of the HTTP surface every client meets: errors, probes and the OpenAPI page."""

from __future__ import annotations

import httpx


async def test_unknown_routes_answer_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


async def test_a_wrong_method_answers_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_the_openapi_page_and_its_authorize_flow(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    schema = (await client.get("/openapi.json")).json()
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    # The Authorize button posts the OAuth2 password form to this URL.
    assert flows["password"]["tokenUrl"] == "/api/auth/token"
    for path in ("/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/users/me"):
        assert path in schema["paths"]


async def test_metrics_report_the_queue(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in ("parley_queue_depth", "parley_queue_in_flight", "parley_queue_dead_letters"):
        assert f"\n{family} 0.0" in response.text
