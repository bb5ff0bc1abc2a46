"""Uploads on one instance: accepted at once, processed in the background, members only.
Then the worker's parts on their own, against the database: the processor on either storage,
and the sweeper that finds lost jobs without doubling a backlog."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.settings import Settings
from parley.db.engine import SessionFactory, create_engine, create_session_factory
from parley.db.models import Message, Room, Upload, UploadStatus, User
from parley.db.unit_of_work import UnitOfWork
from parley.observability.metrics import Metrics
from parley.realtime.channels import ChannelPublisher
from parley.realtime.memory_broker import MemoryBroker
from parley.realtime.publisher import EventPublisher
from parley.repositories.upload_jobs import UploadJobs
from parley.services.upload_processing import (
    ProcessingLimits,
    UploadBusyError,
    UploadProcessor,
    UploadSweeper,
    thumbnail_key,
)
from parley.storage import LocalStorage, MemoryStorage, Storage
from parley.tasks.commands import ProcessUpload, decode_command
from parley.tasks.memory_queue import MemoryTaskQueue
from tests.support.factories import Account, create_account, create_room, messages_of
from tests.support.files import (
    gif_with_metadata,
    jpeg_with_exif,
    jpeg_with_location,
    pdf_with_text,
    png,
    png_bomb,
    png_with_location,
    truncated_png,
    webp_with_location,
)
from tests.support.servers import serve_in_process
from tests.support.uploads import finished_upload
from tests.support.ws import WsClient

pytestmark = pytest.mark.both_databases  # the database is what these test


@pytest.fixture
def held_processing(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The in-process worker takes each upload's job but processes nothing until the test
    sets this: an answer that came meanwhile did not wait for the processing."""
    release = asyncio.Event()
    process = UploadProcessor.__call__

    async def held(self: UploadProcessor, command: ProcessUpload) -> None:
        await release.wait()
        await process(self, command)

    monkeypatch.setattr(UploadProcessor, "__call__", held)
    return release


async def _upload(
    client: httpx.AsyncClient,
    account: Account,
    room_id: object,
    data: bytes,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        f"/api/rooms/{room_id}/uploads",
        files={"file": (filename, data, content_type)},
        headers=account.headers,
    )


async def _member_and_room(client: httpx.AsyncClient) -> tuple[Account, str]:
    account = await create_account(client)
    room = await create_room(client, account)
    return account, str(room["id"])


async def test_an_image_is_accepted_at_once_then_thumbnailed_and_posted(
    client: httpx.AsyncClient, server_url: str, held_processing: asyncio.Event
) -> None:
    account, room_id = await _member_and_room(client)
    socket = await WsClient.authenticated(server_url, account.access_token)
    await socket.subscribe(room_id)
    response = await _upload(client, account, room_id, png(1600, 900), "holiday.png", "text/plain")
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "processing"
    assert accepted["content_type"] == "image/png"  # from the bytes, not the client's claim
    assert accepted["filename"] == "holiday.png"
    assert accepted["status_url"] == f"/api/uploads/{accepted['id']}"

    held_processing.set()
    done = await finished_upload(client, account, accepted["id"])
    assert done["status"] == "done"
    assert done["result"]["kind"] == "image"
    assert (done["result"]["width"], done["result"]["height"]) == (1600, 900)
    thumbnail = await client.get(done["result"]["thumbnail_url"], headers=account.headers)
    assert thumbnail.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert max(image.size) <= 512
        assert image.size == (512, 288)
    original = await client.get(done["file_url"], headers=account.headers)
    assert original.content == png(1600, 900)
    assert original.headers["x-content-type-options"] == "nosniff"

    statuses = [(await socket.recv_type("upload"))["upload"]["status"] for _ in range(2)]
    assert statuses == ["processing", "done"]
    [posted] = await socket.messages(room_id, 1)
    assert posted["kind"] == "image"
    assert posted["attachment"]["upload_id"] == accepted["id"]
    assert posted["attachment"]["thumbnail_url"] == done["result"]["thumbnail_url"]


async def test_a_file_near_the_size_limit_is_answered_at_once(
    client: httpx.AsyncClient, settings: Settings, held_processing: asyncio.Event
) -> None:
    account, room_id = await _member_and_room(client)
    big = b"All work and no play makes Jack a dull boy.\n" * ((25 * 1024 * 1024 - 50_000) // 44)
    assert settings.max_upload_bytes - 1024 * 1024 < len(big) <= settings.max_upload_bytes
    # Answered while its processing is held: the answer does not wait for it.
    response = await _upload(client, account, room_id, big, "big.txt")
    assert response.status_code == 202
    assert response.json()["size"] == len(big)
    held_processing.set()
    done = await finished_upload(client, account, response.json()["id"])
    assert done["result"]["lines"] == len(big) // 44


async def test_a_photo_loses_its_metadata_but_keeps_its_orientation(
    client: httpx.AsyncClient,
) -> None:
    account, room_id = await _member_and_room(client)
    accepted = (await _upload(client, account, room_id, jpeg_with_exif(), "photo.jpg")).json()
    done = await finished_upload(client, account, accepted["id"])
    # Orientation 6: stored sideways, shown upright.
    assert (done["result"]["width"], done["result"]["height"]) == (800, 1200)
    original = (await client.get(done["file_url"], headers=account.headers)).content
    assert b"SecretCamera" not in original
    # Stripped as it was stored: the size given at once is that of the file kept.
    assert accepted["size"] == done["size"] == len(original)
    with Image.open(io.BytesIO(original)) as image:
        assert dict(image.getexif()) == {0x0112: 6}


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("photo.jpg", jpeg_with_location()),
        # Its EXIF past the first MiB: beyond what the upload strips as it streams in.
        ("far.jpg", jpeg_with_location(padding=1_100_000)),
        ("photo.png", png_with_location()),
        ("photo.webp", webp_with_location()),
        ("photo.gif", gif_with_metadata()),
    ],
)
async def test_a_served_image_carries_no_location_whatever_its_format(
    client: httpx.AsyncClient, filename: str, data: bytes
) -> None:
    account, room_id = await _member_and_room(client)
    accepted = (await _upload(client, account, room_id, data, filename)).json()
    done = await finished_upload(client, account, accepted["id"])
    assert done["status"] == "done"
    served = await client.get(done["file_url"], headers=account.headers)
    assert served.status_code == 200
    lowered = served.content.lower()
    for marker in (b"exif", b"xmpmeta", b"xmp data", b"secretcamera", b"52,31"):
        assert marker not in lowered, marker
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == filename.rsplit(".", 1)[1].upper().replace("JPG", "JPEG")
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(0x8825) == {}  # GPS
        assert (image.width, image.height) == (320, 240)
    assert done["size"] == len(served.content)


async def test_a_failed_upload_is_not_served_and_its_bytes_are_gone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account, room_id = await _member_and_room(client)
    accepted = (await _upload(client, account, room_id, truncated_png(), "half.png")).json()
    failed = await finished_upload(client, account, accepted["id"])
    assert failed["status"] == "failed"
    served = await client.get(failed["file_url"], headers=account.headers)
    assert served.status_code == 404
    assert served.json()["error"] == "not_found"
    assert "failed" in served.json()["detail"]
    stored = settings.files_dir / "uploads" / accepted["id"].replace("-", "")
    assert not stored.exists()
    assert (await client.get(f"/api/uploads/{accepted['id']}", headers=account.headers)).json()[
        "status"
    ] == "failed"  # its record stays, with the reason


async def test_a_file_is_not_served_before_it_is_processed(settings: Settings) -> None:
    """Until the worker has verified it and removed its metadata, nobody gets the bytes."""
    idle = settings.model_copy(update={"run_worker": False})  # nothing takes the job
    async with serve_in_process(idle) as url, httpx.AsyncClient(base_url=url) as client:
        account, room_id = await _member_and_room(client)
        accepted = (await _upload(client, account, room_id, png_with_location(), "p.png")).json()
        upload = (await client.get(accepted["status_url"], headers=account.headers)).json()
        assert upload["status"] == "processing"
        served = await client.get(upload["file_url"], headers=account.headers)
        assert served.status_code == 404
        assert served.json()["error"] == "not_found"


async def test_a_pdf_gets_its_pages_and_a_preview(client: httpx.AsyncClient) -> None:
    account, room_id = await _member_and_room(client)
    accepted = (await _upload(client, account, room_id, pdf_with_text("Budget", 3), "b.pdf")).json()
    assert accepted["content_type"] == "application/pdf"
    done = await finished_upload(client, account, accepted["id"])
    assert done["result"]["kind"] == "pdf"
    assert done["result"]["pages"] == 3
    assert "Budget page 1" in done["result"]["text_preview"]
    [message] = [m for m in await messages_of(client, account, room_id) if m["kind"] == "file"]
    assert message["attachment"]["pages"] == 3


async def test_a_text_file_gets_its_encoding_and_lines(client: httpx.AsyncClient) -> None:
    account, room_id = await _member_and_room(client)
    text = "Grüße aus Köln\nzweite Zeile\n" * 3
    accepted = (await _upload(client, account, room_id, text.encode("utf-8"), "notes.txt")).json()
    done = await finished_upload(client, account, accepted["id"])
    assert done["result"] == {
        "kind": "text",
        "encoding": "utf_8",
        "lines": 6,
        "text_preview": text,
    }


async def test_a_disguised_executable_is_refused(client: httpx.AsyncClient) -> None:
    account, room_id = await _member_and_room(client)
    executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(2000)
    response = await _upload(client, account, room_id, executable, "cat.jpg", "image/jpeg")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_type"
    elf = b"\x7fELF\x02\x01\x01" + bytes(100)
    assert (
        await _upload(client, account, room_id, elf, "notes.txt", "text/plain")
    ).status_code == 415
    assert await messages_of(client, account, room_id) == []


async def test_damaged_and_hostile_images_fail_and_the_worker_carries_on(
    client: httpx.AsyncClient,
) -> None:
    account, room_id = await _member_and_room(client)
    truncated = (await _upload(client, account, room_id, truncated_png(), "half.png")).json()
    bomb = (await _upload(client, account, room_id, png_bomb(), "bomb.png")).json()
    fine = (await _upload(client, account, room_id, png(), "fine.png")).json()
    failed = await finished_upload(client, account, truncated["id"])
    assert failed["status"] == "failed"
    assert "truncated" in failed["error"]
    exploded = await finished_upload(client, account, bomb["id"])
    assert exploded["status"] == "failed"
    assert "decompression bomb" in exploded["error"]
    assert (await finished_upload(client, account, fine["id"]))["status"] == "done"
    kinds = [m["kind"] for m in await messages_of(client, account, room_id)]
    assert kinds == ["image"]  # failed uploads post nothing


async def test_a_path_traversal_filename_is_only_a_label(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account, room_id = await _member_and_room(client)
    response = await _upload(client, account, room_id, b"hello\n", "../../../etc/passwd")
    assert response.status_code == 202
    assert response.json()["filename"] == "passwd"
    stored = list((settings.files_dir / "uploads").iterdir())
    assert [path.name for path in stored] == [response.json()["id"].replace("-", "")]
    assert not Path(settings.data_dir.parent / "etc").exists()


async def test_an_over_limit_body_is_413_before_it_is_read(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    account, room_id = await _member_and_room(client)
    small = settings.model_copy(update={"max_upload_bytes": 100_000})
    async with serve_in_process(small) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        # Declares 50 MB, sends 1 KB, then waits: the answer must come without the rest.
        head = (
            f"POST /api/rooms/{room_id}/uploads HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {account.access_token}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
        )
        writer.write(head.encode() + b"x" * 1024)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert b"413" in status_line
        writer.close()

        # Without a declared length, reading stops at the limit.
        async with httpx.AsyncClient(base_url=url, timeout=30) as small_client:

            async def body() -> AsyncIterator[bytes]:
                yield b"--xyz\r\nContent-Disposition: form-data; "
                yield b'name="file"; filename="a.txt"\r\n\r\n'
                for _ in range(50):
                    yield b"a" * 10_000

            response = await small_client.post(
                f"/api/rooms/{room_id}/uploads",
                content=body(),
                headers={**account.headers, "content-type": "multipart/form-data; boundary=xyz"},
            )
            assert response.status_code == 413
            assert response.json()["error"] == "too_large"
    assert (
        not list((settings.files_dir / "uploads").glob("*"))
        if (settings.files_dir / "uploads").exists()
        else True
    )


async def test_bad_forms_are_400(client: httpx.AsyncClient) -> None:
    account, room_id = await _member_and_room(client)
    url = f"/api/rooms/{room_id}/uploads"
    not_multipart = await client.post(url, json={"file": "x"}, headers=account.headers)
    assert not_multipart.status_code == 400
    wrong_field = await client.post(
        url, files={"attachment": ("a.txt", b"hi", "text/plain")}, headers=account.headers
    )
    assert wrong_field.status_code == 400


async def test_uploads_are_for_members_only(client: httpx.AsyncClient) -> None:
    account, room_id = await _member_and_room(client)
    stranger = await create_account(client)
    refused = await _upload(client, stranger, room_id, png(), "x.png")
    assert refused.status_code == 404
    accepted = (await _upload(client, account, room_id, png(), "x.png")).json()
    done = await finished_upload(client, account, accepted["id"])
    for url in (
        f"/api/uploads/{accepted['id']}",
        done["file_url"],
        done["result"]["thumbnail_url"],
    ):
        response = await client.get(url, headers=stranger.headers)
        assert response.status_code == 404, url
    assert (await client.get(done["file_url"])).status_code == 401


@pytest.mark.parametrize("size", [0])
async def test_an_empty_file_is_refused(client: httpx.AsyncClient, size: int) -> None:
    account, room_id = await _member_and_room(client)
    assert (await _upload(client, account, room_id, bytes(size), "empty.txt")).status_code == 415


async def test_a_slow_upload_holds_up_nobody(client: httpx.AsyncClient) -> None:
    """The body streams in with no transaction open: even on SQLite, whose writers take
    turns, others keep posting while an upload trickles in."""
    account, room_id = await _member_and_room(client)
    halfway = asyncio.Event()
    release = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"--xyz\r\nContent-Disposition: form-data; "
        yield b'name="file"; filename="slow.txt"\r\n\r\n'
        yield b"first half\n" * 1000
        halfway.set()
        await release.wait()
        yield b"second half\n" * 1000
        yield b"\r\n--xyz--\r\n"

    uploading = asyncio.create_task(
        client.post(
            f"/api/rooms/{room_id}/uploads",
            content=trickle(),
            headers={**account.headers, "content-type": "multipart/form-data; boundary=xyz"},
        )
    )
    await asyncio.wait_for(halfway.wait(), 10)
    async with asyncio.timeout(5):
        posted = await client.post(
            f"/api/rooms/{room_id}/messages", json={"body": "meanwhile"}, headers=account.headers
        )
    assert posted.status_code == 201
    release.set()
    assert (await uploading).status_code == 202


# --- the worker's parts, on the database alone ---------------------------------------------

LIMITS = ProcessingLimits(lease=30.0, max_attempts=3, max_pixels=50_000_000)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


async def _room(session_factory: SessionFactory) -> Room:
    async with UnitOfWork(session_factory) as uow:
        owner = User(
            username=f"u{uuid.uuid4().hex[:12]}", display_name="Uploader", password_hash="-"
        )
        uow.session.add(owner)
        await uow.session.flush()
        room = Room(name="photos", owner_id=owner.id)
        uow.session.add(room)
    return room


async def _upload_row(
    session_factory: SessionFactory,
    room: Room,
    *,
    enqueued_ago: float = 0.0,
    lease_ends_in: float | None = None,
    attempts: int = 0,
    storage_key: str = "uploads/x",
) -> uuid.UUID:
    """An upload still processing; held until ``lease_ends_in`` seconds from now, or let go
    (released, or its holder died) that long ago when negative."""
    now = datetime.now(UTC)
    upload = Upload(
        room_id=room.id,
        uploader_id=room.owner_id,
        filename="photo.jpg",
        content_type="image/jpeg",
        size=1,
        storage_key=storage_key,
        enqueued_at=now - timedelta(seconds=enqueued_ago),
        attempts=attempts,
        lease_until=None if lease_ends_in is None else now + timedelta(seconds=lease_ends_in),
    )
    async with UnitOfWork(session_factory) as uow:
        uow.session.add(upload)
    return upload.id


async def _enqueued(queue: MemoryTaskQueue) -> set[uuid.UUID]:
    leases = await queue.claim("test", 1000, wait=0)
    commands = [decode_command(lease.job.command) for lease in leases]
    return {command.upload_id for command in commands if isinstance(command, ProcessUpload)}


async def test_the_sweeper_leaves_a_backlog_behind_busy_workers_alone(
    session_factory: SessionFactory,
) -> None:
    room = await _room(session_factory)
    await _upload_row(session_factory, room, enqueued_ago=300, lease_ends_in=20, attempts=1)
    for waited in range(200, 40, -10):  # queued after the one in hand, long ago
        await _upload_row(session_factory, room, enqueued_ago=waited)
    queue = MemoryTaskQueue()
    assert await UploadSweeper(session_factory, queue, stale_after=30).sweep() == 0
    assert await _enqueued(queue) == set()


async def test_the_sweeper_finds_jobs_that_were_lost(session_factory: SessionFactory) -> None:
    room = await _room(session_factory)
    # Committed, then the process died before it enqueued: nothing is in hand.
    lost = await _upload_row(session_factory, room, enqueued_ago=60)
    await _upload_row(session_factory, room, enqueued_ago=5)  # its job is on its way
    queue = MemoryTaskQueue()
    sweeper = UploadSweeper(session_factory, queue, stale_after=30)
    assert await sweeper.sweep() == 1
    assert await _enqueued(queue) == {lost}
    assert await sweeper.sweep() == 0  # enqueued again just now: its new job is on its way

    # Workers now hold an upload queued after it: the queue went past a job it never had.
    room = await _room(session_factory)
    passed_over = await _upload_row(session_factory, room, enqueued_ago=90)
    await _upload_row(session_factory, room, enqueued_ago=60, lease_ends_in=20, attempts=1)
    await _upload_row(session_factory, room, enqueued_ago=50)  # waiting behind it
    assert await sweeper.sweep() == 1
    assert await _enqueued(queue) == {passed_over}


async def test_a_job_given_back_waits_from_then(session_factory: SessionFactory) -> None:
    """Released (a retry on its way) or lapsed (its holder died, the queue reclaims the
    job): back in the queue when the lease ended, not when the upload was first queued."""
    room = await _room(session_factory)
    await _upload_row(session_factory, room, enqueued_ago=300, lease_ends_in=-5, attempts=1)
    lapsed_long_ago = await _upload_row(
        session_factory, room, enqueued_ago=300, lease_ends_in=-40, attempts=1
    )
    queue = MemoryTaskQueue()
    assert await UploadSweeper(session_factory, queue, stale_after=30).sweep() == 1
    assert await _enqueued(queue) == {lapsed_long_ago}


class _TakenOverWhileReading(MemoryStorage):
    """A worker so slow that its lease lapses and another worker claims the upload while
    it reads the file."""

    def __init__(self, session_factory: SessionFactory) -> None:
        super().__init__()
        self._session_factory = session_factory

    async def read(self, key: str) -> bytes:
        async with UnitOfWork(self._session_factory) as uow:
            await uow.session.execute(
                update(Upload).where(Upload.storage_key == key).values(attempts=Upload.attempts + 1)
            )
        return await super().read(key)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _processor(engine: AsyncEngine, storage: Storage) -> UploadProcessor:
    channels = ChannelPublisher(MemoryBroker(), namespace=f"t{uuid.uuid4().hex[:8]}")
    # No process pool: the same functions run in a thread here.
    events = EventPublisher(channels, Metrics())
    return UploadProcessor(UploadJobs(engine), storage, events, None, LIMITS)


async def _messages(session_factory: SessionFactory, room: Room) -> list[Message]:
    async with session_factory() as session:
        return list(await session.scalars(select(Message).where(Message.room_id == room.id)))


@pytest.mark.parametrize("kind", ["local", "memory"])
async def test_the_processor_previews_on_any_storage_once(
    engine: AsyncEngine, session_factory: SessionFactory, tmp_path: Path, kind: str
) -> None:
    """On a local disk the processing process reads and writes the files by path; any other
    storage ships the bytes. The outcome is the same, and a duplicate job adds nothing."""
    storage: Storage = LocalStorage(tmp_path / "files") if kind == "local" else MemoryStorage()
    room = await _room(session_factory)
    key = f"uploads/{uuid.uuid4().hex}"
    await storage.write(key, _once(jpeg_with_exif()))
    upload_id = await _upload_row(session_factory, room, storage_key=key)
    processor = _processor(engine, storage)
    await processor(ProcessUpload(upload_id))
    await processor(ProcessUpload(upload_id))  # delivered twice

    async with session_factory() as session:
        upload = await session.get(Upload, upload_id)
    assert upload is not None
    assert upload.status is UploadStatus.DONE
    assert upload.result == {
        "kind": "image",
        "width": 800,
        "height": 1200,
        "thumbnail_url": f"/api/uploads/{upload_id}/thumbnail",
    }
    assert upload.lease_until is None
    [message] = await _messages(session_factory, room)
    assert message.id == upload.message_id
    assert message.attachment is not None
    assert message.attachment["upload_id"] == str(upload_id)
    assert message.attachment["width"] == 800
    assert b"SecretCamera" not in await storage.read(key)
    with Image.open(io.BytesIO(await storage.read(thumbnail_key(upload)))) as thumbnail:
        assert thumbnail.size == (341, 512)


async def test_a_worker_taken_over_before_it_finished_leaves_no_trace(
    engine: AsyncEngine,
    session_factory: SessionFactory,
) -> None:
    storage = _TakenOverWhileReading(session_factory)
    room = await _room(session_factory)
    key = f"uploads/{uuid.uuid4().hex}"
    await storage.write(key, _once(png()))
    upload_id = await _upload_row(session_factory, room, storage_key=key)
    await _processor(engine, storage)(ProcessUpload(upload_id))
    async with session_factory() as session:
        upload = await session.get(Upload, upload_id)
        room_seq = await session.scalar(select(func.max(Room.last_seq)).where(Room.id == room.id))
    assert upload is not None
    # Left to the worker that holds it now: no outcome, no message, no seq used up.
    assert upload.status is UploadStatus.PROCESSING
    assert upload.message_id is None
    assert await _messages(session_factory, room) == []
    assert room_seq == 0


async def test_a_job_that_fails_lets_go_of_its_upload_for_the_retry(
    engine: AsyncEngine,
    session_factory: SessionFactory,
) -> None:
    storage = MemoryStorage()
    room = await _room(session_factory)
    key = f"uploads/{uuid.uuid4().hex}"
    upload_id = await _upload_row(session_factory, room, storage_key=key)
    processor = _processor(engine, storage)
    with pytest.raises(FileNotFoundError):  # the file is not there (yet): the job fails
        await processor(ProcessUpload(upload_id))
    async with session_factory() as session:
        upload = await session.get(Upload, upload_id)
    assert upload is not None
    assert (upload.status, upload.attempts) == (UploadStatus.PROCESSING, 1)
    assert upload.lease_until is not None
    assert upload.lease_until <= datetime.now(UTC)  # let go: the retry need not wait

    await storage.write(key, _once(png()))
    await processor(ProcessUpload(upload_id))  # the retry
    async with session_factory() as session:
        upload = await session.get(Upload, upload_id)
    assert upload is not None
    assert (upload.status, upload.attempts) == (UploadStatus.DONE, 2)
    [message] = await _messages(session_factory, room)
    assert (message.id, message.seq, message.sender_id) == (upload.message_id, 1, room.owner_id)


async def test_a_held_upload_is_left_to_its_holder_and_a_spent_one_fails(
    engine: AsyncEngine,
    session_factory: SessionFactory,
) -> None:
    room = await _room(session_factory)
    processor = _processor(engine, MemoryStorage())
    held = await _upload_row(session_factory, room, lease_ends_in=20, attempts=1)
    with pytest.raises(UploadBusyError):  # a duplicate job: retried once the lease ends
        await processor(ProcessUpload(held))

    spent = await _upload_row(session_factory, room, attempts=LIMITS.max_attempts)
    await processor(ProcessUpload(spent))
    async with session_factory() as session:
        upload = await session.get(Upload, spent)
    assert upload is not None
    assert upload.status is UploadStatus.FAILED
    assert upload.error == f"gave up after {LIMITS.max_attempts} attempts"
    assert await _messages(session_factory, room) == []
