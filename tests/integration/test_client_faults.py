"""A client's fault is the client's: a malformed form is a 400 that says what is wrong, and a
client that leaves early, or whose socket is refused, costs no line above INFO and no
traceback in the server's log. Also what every answer leaves out (no ``server`` header)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from parley.core.settings import RateLimitMode, Settings
from parley.server import ParleyServer, build_server
from tests.support.factories import Account, create_account, create_room
from tests.support.raw_clients import OPCODE_CLOSE, RawConnection, text_frame
from tests.support.servers import serving
from tests.support.waiting import eventually

# The loggers the server writes its own lines and uvicorn's to.
SERVER_LOGGERS = ("parley", "uvicorn", "uvicorn.error")


class LogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def above_info(self) -> list[str]:
        return [
            f"{record.levelname} {record.name}: {record.getMessage()}"
            for record in self.records
            if record.levelno > logging.INFO
        ]

    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]

    def with_traceback(self) -> list[str]:
        return [record.getMessage() for record in self.records if record.exc_info]


@pytest.fixture(autouse=True)
async def _close_raw_connections() -> AsyncIterator[None]:
    yield
    await RawConnection.close_all()


@dataclass
class Served:
    url: str
    server: ParleyServer
    log: LogRecorder

    async def busy(self, within: float = 10) -> None:
        """Wait until the server is handling a request or a socket."""
        await eventually(lambda: self.server.server_state.tasks, within=within)

    async def idle(self, within: float = 10) -> None:
        """Wait until every request and socket task of the server has finished."""
        await eventually(
            lambda: self.server.server_state.tasks, lambda tasks: not tasks, within=within
        )


@pytest.fixture
def recorder() -> Iterator[LogRecorder]:
    recorder = LogRecorder()
    yield recorder
    for name in SERVER_LOGGERS:
        logging.getLogger(name).removeHandler(recorder)


async def _serve(settings: Settings, recorder: LogRecorder) -> AsyncIterator[Served]:
    server = build_server(settings, log_level="warning")  # configures logging: then listen
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(recorder)
        logger.setLevel(logging.INFO)
    async with serving(server) as url:
        recorder.records.clear()  # what starting up says is not about any client
        yield Served(url, server, recorder)


@pytest.fixture
async def served(settings: Settings, recorder: LogRecorder) -> AsyncIterator[Served]:
    async for served in _serve(settings, recorder):
        yield served


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        yield client


async def _member_and_room(api: httpx.AsyncClient) -> tuple[Account, str]:
    account = await create_account(api)
    return account, (await create_room(api, account))["id"]


def _no_server_fault(log: LogRecorder) -> None:
    assert log.above_info() == []
    assert log.with_traceback() == []


# --- malformed forms ---------------------------------------------------------------------------

FILE_HEAD = b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
FILE_PART = FILE_HEAD + b"hi\r\n--B--\r\n"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"--B\r\ngarbage\r\n\r\n", "invalid character 13 in header"),
        (b"--B\r\nContent\x00-Type: text/plain\r\n" + FILE_PART, "character 0"),
        (b"\x00--B\r\n" + FILE_PART, "boundary"),
        (b"--B\r\nX-Long: " + b"a" * 8192 + b"\r\n" + FILE_PART, "header size"),
    ],
    ids=["garbage", "nul", "nul-before-boundary", "8-kib-header"],
)
async def test_a_malformed_form_is_a_400_that_says_why(
    served: Served, api: httpx.AsyncClient, body: bytes, complaint: str
) -> None:
    account, room_id = await _member_and_room(api)
    answer = await api.post(
        f"/api/rooms/{room_id}/uploads",
        content=body,
        headers={**account.headers, "content-type": "multipart/form-data; boundary=B"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert "not valid multipart/form-data" in answer.json()["detail"]
    assert complaint in answer.json()["detail"]
    _no_server_fault(served.log)


# --- clients that leave early ------------------------------------------------------------------


async def test_a_client_leaving_mid_upload_is_no_server_fault(
    served: Served, api: httpx.AsyncClient
) -> None:
    account, room_id = await _member_and_room(api)
    connection = await RawConnection.open(served.url)
    head = (
        f"POST /api/rooms/{room_id}/uploads HTTP/1.1\r\nHost: parley.test\r\n"
        f"Authorization: Bearer {account.access_token}\r\n"
        "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 1000000\r\n\r\n"
    )
    assert await connection.write(head.encode() + b"--B\r\n" + FILE_HEAD + b"a" * 10_000)
    await served.busy()  # the upload is streaming to storage
    connection.close()
    await served.idle()
    _no_server_fault(served.log)
    assert sum("left before its request body" in line for line in served.log.lines()) == 1


async def test_a_client_leaving_right_after_auth_is_no_server_fault(
    served: Served, api: httpx.AsyncClient
) -> None:
    account = await create_account(api)
    for _ in range(5):
        connection = await RawConnection.open(served.url)
        assert (await connection.upgrade_to_websocket()).status == 101
        auth = {"type": "auth", "token": account.access_token}
        assert await connection.write(text_frame(json.dumps(auth)))
        connection.close()  # before the ready frame can be written
    await served.idle()
    _no_server_fault(served.log)


# --- refused sockets ---------------------------------------------------------------------------


@pytest.fixture
async def strict(settings: Settings, recorder: LogRecorder) -> AsyncIterator[Served]:
    limited = settings.model_copy(
        update={"rate_limits": RateLimitMode.ON, "rate_limit_connections": "2/minute"}
    )
    async for served in _serve(limited, recorder):
        yield served


async def test_refused_sockets_complete_their_handshake(strict: Served) -> None:
    """Refused by the rate limit (an HTTP 429 at the handshake) or by a bad token (4001):
    neither is a fault of the server's, nor a handshake left incomplete."""
    bad_token = await RawConnection.open(strict.url)
    assert (await bad_token.upgrade_to_websocket()).status == 101
    assert await bad_token.write(text_frame('{"type": "auth", "token": "nonsense"}'))
    opcode, payload = await bad_token.next_frame()
    assert (opcode, payload[:2]) == (OPCODE_CLOSE, (4001).to_bytes(2, "big"))
    bad_token.close()
    statuses = []
    for _ in range(3):
        connection = await RawConnection.open(strict.url)
        statuses.append((await connection.upgrade_to_websocket()).status)
        connection.close()
    assert statuses == [101, 429, 429]
    await strict.idle()
    _no_server_fault(strict.log)


# --- what every answer leaves out --------------------------------------------------------------


async def test_no_answer_names_the_server_software(api: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/api/users/me", "/nowhere"):
        assert "server" not in (await api.get(path)).headers
