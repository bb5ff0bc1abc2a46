"""The parts of the HTTP surface every client meets: errors, probes and the OpenAPI page."""

from __future__ import annotations

import httpx

from parley.core.settings import Settings
from tests.support.processes import RedisServer
from tests.support.servers import serve_in_process


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
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}


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


async def test_hosts_cors_and_docs_follow_the_settings(settings: Settings) -> None:
    strict = settings.model_copy(
        update={
            "trusted_hosts": ["127.0.0.1", "chat.example.com"],
            "cors_origins": ["https://app.example.com"],
            "api_docs": False,
        }
    )
    async with serve_in_process(strict) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200
        spoofed = await client.get("/healthz", headers={"Host": "evil.example.net"})
        assert spoofed.status_code == 400
        preflight = await client.options(
            "/api/auth/login",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        other = await client.options(
            "/api/auth/login",
            headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404


async def test_the_web_page_carries_security_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/static/app.js")).status_code == 200


async def test_the_openapi_description_is_complete(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 25
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("tags"), where
        assert operation.get("summary"), where
        if path.startswith("/api/"):
            documented = {code for code in operation["responses"] if code.startswith("4")}
            assert documented, f"{where} documents no error"
    components = schema["components"]["schemas"]
    for name in (
        "UserOut",
        "RoomOut",
        "RoomDetail",
        "MessageOut",
        "MessagePage",
        "TokenPair",
        "UploadAccepted",
        "UploadOut",
        "ErrorBody",
    ):
        assert components[name].get("examples"), name


async def test_the_openapi_description_of_malformed_requests_is_true(
    client: httpx.AsyncClient,
) -> None:
    # Found by the API fuzzer: 422s were documented with FastAPI's own body, not Parley's, and
    # the 400 for a body that cannot be parsed was not documented at all.
    schema = (await client.get("/openapi.json")).json()
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            if "422" in responses:
                assert responses["422"]["content"]["application/json"]["schema"] == error_body
            if "requestBody" in operation:
                assert "400" in responses, f"{method.upper()} {path}"
    assert "HTTPValidationError" not in schema["components"]["schemas"]

    invalid = await client.post("/api/auth/login", json={"username": "alice"})
    assert invalid.status_code == 422
    assert set(invalid.json()) == {"error", "detail", "fields"}
    unreadable = await client.post(
        "/api/auth/login", content=b"\x80 not utf-8", headers={"content-type": "application/json"}
    )
    assert unreadable.status_code == 400
    assert unreadable.json()["error"] == "bad_request"


async def test_readiness_fails_when_redis_is_gone(
    settings: Settings, private_redis: RedisServer
) -> None:
    clustered = settings.model_copy(update={"redis_url": private_redis.url})
    async with serve_in_process(clustered) as url, httpx.AsyncClient(base_url=url) as client:
        ready = await client.get("/readyz")
        assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "redis": "ok"}
        await private_redis.kill()
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["redis"].startswith("unreachable")
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
