"""The smoke run of a whole Parley stack (deploy/compose.yaml), through nginx only.

``bash deploy/local.sh smoke`` runs it against the stack ``up`` started; with
``COMPOSE_PROJECT_NAME``/``COMPOSE_FILE`` (and ``DOCKER_HOST``) pointing at any running copy of
the stack, ``uv run python deploy/local/smoke.py http://127.0.0.1:8080`` runs it there. Every
request and socket goes through nginx; compose is used only to stop, kill and start containers
and to read each instance's own socket count (``parley_websocket_connections``, from inside
its container), which is how the run knows which instance nginx gave a socket to.

1. Two users, on different app instances, exchange messages over ``/ws``.
2. An upload is processed by the worker container: it waits while the worker is stopped
   (no app instance processes jobs), and is done once the worker is started again.
3. The instance one socket is on is killed (SIGKILL); messages sent meanwhile on the other are
   all replayed, in order and once, when the socket comes back with ``since_seq``; the instance
   is started again and nginx sends sockets to it again.
4. The stack goes down (containers and network; the volumes stay) and up again: the accounts,
   the messages and the uploaded file are all still there.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import httpx
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Json: TypeAlias = dict[str, Any]
T = TypeVar("T")

APPS = ("app1", "app2")
PASSWORD = "smoke-test password"  # noqa: S105  (a throwaway account's)
# How many sockets may be opened, looking for one that nginx gives to a given instance.
PLACEMENT_ATTEMPTS = 12
MISSED_WHILE_DOWN = 5
# Prints an instance's own count of open, authenticated sockets.
SOCKET_COUNT = (
    "import urllib.request\n"
    "text = urllib.request.urlopen('http://127.0.0.1:8000/metrics', timeout=5).read().decode()\n"
    "print(next(line.split()[1] for line in text.splitlines()"
    " if line.startswith('parley_websocket_connections ')))"
)
READY = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"


class SmokeFailure(Exception):
    """The stack did not do what it should."""


def check(condition: bool, what: str) -> None:  # noqa: FBT001  (reads as an assertion)
    if not condition:
        raise SmokeFailure(what)


def say(text: str) -> None:
    sys.stdout.write(f"   {text}\n")
    sys.stdout.flush()


async def compose_status(*args: str) -> tuple[int, str, str]:
    """``docker-compose ARGS``: its exit status, output and errors. compose finds the stack
    from its environment (``COMPOSE_PROJECT_NAME``, ``COMPOSE_FILE``, ``DOCKER_HOST``)."""
    process = await asyncio.create_subprocess_exec(
        "docker-compose",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def compose(*args: str) -> str:
    status, out, err = await compose_status(*args)
    if status != 0:
        raise SmokeFailure(f"docker-compose {' '.join(args)}: {err.strip()}")
    return out


async def sockets_on(app: str) -> int:
    return int(float(await compose("exec", "-T", app, "python", "-c", SOCKET_COUNT)))


async def socket_counts() -> dict[str, int]:
    return {app: await sockets_on(app) for app in APPS}


async def instance_ready(app: str, within: float) -> None:
    """Waits for ``app`` to answer its own /readyz, inside its container."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status, _, _ = await compose_status("exec", "-T", app, "python", "-c", READY)
        if status == 0:
            return
        await asyncio.sleep(1)
    raise SmokeFailure(f"{app} did not become ready within {within:.0f} s")


@dataclass
class Account:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(http: httpx.AsyncClient, prefix: str) -> Account:
    username = f"{prefix}_{uuid.uuid4().hex[:8]}"
    credentials = {"username": username, "password": PASSWORD}
    registered = await http.post("/api/auth/register", json=credentials)
    check(registered.status_code == 201, f"register {username}: {registered.text}")
    return await log_in(http, username)


async def log_in(http: httpx.AsyncClient, username: str) -> Account:
    tokens = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    check(tokens.status_code == 200, f"log in {username}: {tokens.status_code} {tokens.text}")
    return Account(username, tokens.json()["access_token"])


@dataclass
class Socket:
    """One authenticated ``/ws`` connection, through nginx."""

    connection: ClientConnection
    account: Account
    backlog: list[Json] = field(default_factory=list)

    @classmethod
    async def open(cls, base_url: str, account: Account) -> Socket:
        url = base_url.replace("http://", "ws://", 1) + "/ws"
        socket = cls(await connect(url, open_timeout=20), account)
        await socket.send({"type": "auth", "token": account.token})
        ready = await socket.next_of("ready")
        check(ready["user"]["username"] == account.username, f"ready for someone else: {ready}")
        # The instance counts a socket once its session runs, which a pong proves.
        await socket.send({"type": "ping"})
        await socket.next_of("pong")
        return socket

    async def send(self, frame: Json) -> None:
        await self.connection.send(json.dumps(frame))

    async def next_matching(self, wanted: Callable[[Json], bool], within: float = 20) -> Json:
        """The next frame ``wanted`` accepts; the others are kept for later reads."""
        for index, kept in enumerate(self.backlog):
            if wanted(kept):
                return self.backlog.pop(index)
        async with asyncio.timeout(within):
            while True:
                frame: Json = json.loads(await self.connection.recv())
                if frame["type"] == "error":
                    raise SmokeFailure(f"{self.account.username}'s socket: {frame}")
                if wanted(frame):
                    return frame
                self.backlog.append(frame)

    async def next_of(self, kind: str, within: float = 20) -> Json:
        return await self.next_matching(lambda frame: frame["type"] == kind, within)

    async def subscribe(self, room_id: str, since_seq: int | None = None) -> list[Json]:
        """Subscribes; the messages replayed before ``subscribed``, in the order they came."""
        frame: Json = {"type": "subscribe", "room_id": room_id}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        await self.send(frame)
        replayed: list[Json] = []
        while True:
            answer = await self.next_matching(lambda f: f["type"] in {"message", "subscribed"})
            if answer["type"] == "subscribed":
                return replayed
            replayed.append(answer["message"])

    async def say_in(self, room_id: str, body: str) -> Json:
        """Sends a message; the stored message its ``ack`` carries."""
        client_id = uuid.uuid4().hex
        await self.send({"type": "send", "room_id": room_id, "body": body, "client_id": client_id})
        ack = await self.next_matching(
            lambda frame: frame["type"] == "ack" and frame["client_id"] == client_id
        )
        message: Json = ack["message"]
        return message

    async def messages_in(self, room_id: str, count: int, within: float = 20) -> list[Json]:
        """The room's next ``count`` messages on this socket (the user's own included)."""
        frames = [
            await self.next_matching(
                lambda f: f["type"] == "message" and f["room_id"] == room_id, within
            )
            for _ in range(count)
        ]
        return [frame["message"] for frame in frames]

    async def dropped(self, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.connection.recv()
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        await self.connection.close()


@dataclass
class Run:
    base_url: str
    http: httpx.AsyncClient
    spare: list[Socket] = field(default_factory=list)

    async def socket_on(
        self, account: Account, wanted: Callable[[str], bool]
    ) -> tuple[Socket, str]:
        """A socket nginx gave to an instance ``wanted`` accepts, and that instance's name.

        Sockets that landed elsewhere stay open (in ``spare``) until the step ends: they keep
        the counts readable and steer nginx's least-connections choice to the other instance.
        """
        for _ in range(PLACEMENT_ATTEMPTS):
            before = await socket_counts()
            socket = await Socket.open(self.base_url, account)
            after = await socket_counts()
            risen = [app for app in APPS if after[app] == before[app] + 1]
            one_more = sum(after.values()) == sum(before.values()) + 1
            if one_more and len(risen) == 1 and wanted(risen[0]):
                return socket, risen[0]
            self.spare.append(socket)
        raise SmokeFailure(f"nginx gave none of {PLACEMENT_ATTEMPTS} sockets to the one wanted")

    async def close_spares(self) -> None:
        for socket in self.spare:
            await socket.close()
        self.spare.clear()

    async def ready_through_nginx(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                if (await self.http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(1)
        raise SmokeFailure(f"/readyz did not answer 200 through nginx within {within:.0f} s")


@dataclass
class Chat:
    room_id: str
    alice: Account
    bob: Account
    alice_socket: Socket
    bob_socket: Socket
    alice_on: str
    bob_on: str
    last_seq: int = 0


async def two_instances(run: Run) -> Chat:
    alice = await register(run.http, "alice")
    bob = await register(run.http, "bob")
    room = await run.http.post("/api/rooms", json={"name": "smoke"}, headers=alice.headers)
    check(room.status_code == 201, f"create a room: {room.text}")
    room_id = room.json()["id"]
    added = await run.http.post(
        f"/api/rooms/{room_id}/members", json={"username": bob.username}, headers=alice.headers
    )
    check(added.status_code == 204, f"add bob: {added.text}")

    alice_socket, alice_on = await run.socket_on(alice, lambda _app: True)
    bob_socket, bob_on = await run.socket_on(bob, lambda app: app != alice_on)
    await run.close_spares()
    await alice_socket.subscribe(room_id)
    await bob_socket.subscribe(room_id)

    hello = await alice_socket.say_in(room_id, f"hello from {alice_on}")
    check(ids(await bob_socket.messages_in(room_id, 1)) == ids([hello]), "bob missed hello")
    reply = await bob_socket.say_in(room_id, f"hello back from {bob_on}")
    heard = await alice_socket.messages_in(room_id, 2)
    check(ids(heard) == ids([hello, reply]), f"alice heard {heard}, not hello and the reply")
    check(reply["seq"] == hello["seq"] + 1, f"seqs {hello['seq']}, {reply['seq']}")
    await bob_socket.messages_in(room_id, 1)  # his own reply
    say(f"alice on {alice_on} and bob on {bob_on} exchanged seqs {hello['seq']}, {reply['seq']}")
    return Chat(room_id, alice, bob, alice_socket, bob_socket, alice_on, bob_on, reply["seq"])


def ids(messages: list[Json]) -> list[str]:
    return [message["id"] for message in messages]


def a_picture() -> bytes:
    picture = Image.new("RGB", (320, 200))
    picture.putdata([(x % 256, y % 256, 128) for y in range(200) for x in range(320)])
    encoded = io.BytesIO()
    picture.save(encoded, format="PNG")
    return encoded.getvalue()


async def upload_status(run: Run, chat: Chat, upload_id: str) -> Json:
    answer = await run.http.get(f"/api/uploads/{upload_id}", headers=chat.alice.headers)
    check(answer.status_code == 200, f"upload status: {answer.text}")
    status: Json = answer.json()
    return status


@dataclass
class Upload:
    file_url: str
    content: bytes


async def upload_by_the_worker(run: Run, chat: Chat) -> Upload:
    await compose("stop", "worker")
    sent = await run.http.post(
        f"/api/rooms/{chat.room_id}/uploads",
        files={"file": ("smoke.png", a_picture(), "image/png")},
        headers=chat.alice.headers,
    )
    check(sent.status_code == 202, f"upload: {sent.status_code} {sent.text}")
    upload_id = sent.json()["id"]
    await asyncio.sleep(3)
    waiting = await upload_status(run, chat, upload_id)
    check(waiting["status"] == "processing", f"processed with the worker stopped: {waiting}")

    await compose("start", "worker")
    event = await chat.alice_socket.next_matching(
        lambda frame: (
            frame["type"] == "upload"
            and frame["upload"]["id"] == upload_id
            and frame["upload"]["status"] != "processing"
        ),
        within=90,
    )
    check(event["upload"]["status"] == "done", f"the upload failed: {event}")
    done = await upload_status(run, chat, upload_id)
    result = done["result"]
    check((result["kind"], result["width"], result["height"]) == ("image", 320, 200), f"{result}")
    [posted] = await chat.bob_socket.messages_in(chat.room_id, 1, within=30)
    check(posted["attachment"]["upload_id"] == upload_id, f"bob got {posted}, not the picture")
    check(posted["seq"] == chat.last_seq + 1, f"the picture is seq {posted['seq']}")
    chat.last_seq = posted["seq"]
    check(ids(await chat.alice_socket.messages_in(chat.room_id, 1)) == ids([posted]), "alice")
    thumbnail = await run.http.get(result["thumbnail_url"], headers=chat.bob.headers)
    check(thumbnail.status_code == 200, f"thumbnail: {thumbnail.status_code}")
    check(thumbnail.headers["content-type"] == "image/webp", f"{thumbnail.headers}")
    file = await run.http.get(done["file_url"], headers=chat.bob.headers)
    check(file.status_code == 200, f"file: {file.status_code}")
    say(f"the worker container processed the upload (a 320x200 picture, message {posted['seq']})")
    return Upload(done["file_url"], file.content)


async def kill_and_resume(run: Run, chat: Chat) -> None:
    killed = chat.alice_on
    await compose("kill", "-s", "SIGKILL", killed)
    check(await chat.alice_socket.dropped(within=30), f"alice's socket outlived {killed}")
    missed = [
        await chat.bob_socket.say_in(chat.room_id, f"while {killed} is down, {n}")
        for n in range(MISSED_WHILE_DOWN)
    ]
    expected = list(range(chat.last_seq + 1, chat.last_seq + 1 + MISSED_WHILE_DOWN))
    check([m["seq"] for m in missed] == expected, f"seqs {[m['seq'] for m in missed]}")
    await chat.bob_socket.messages_in(chat.room_id, MISSED_WHILE_DOWN)  # his own

    # docker-compose start is a no-op if the restart policy already brought it back.
    await compose("start", killed)
    resumed = await Socket.open(run.base_url, chat.alice)
    replayed = await resumed.subscribe(chat.room_id, since_seq=chat.last_seq)
    check(
        [(m["seq"], m["id"]) for m in replayed] == [(m["seq"], m["id"]) for m in missed],
        f"resumed with since_seq={chat.last_seq}: {[m['seq'] for m in replayed]}",
    )
    chat.last_seq = missed[-1]["seq"]
    say(f"{killed} killed; alice resumed with since_seq and got all {len(missed)} she missed")

    await instance_ready(killed, within=90)
    back, _ = await run.socket_on(chat.alice, lambda app: app == killed)
    await back.subscribe(chat.room_id)
    sent = await chat.bob_socket.say_in(chat.room_id, f"{killed} is back")
    for socket in (back, resumed, chat.bob_socket):
        check(ids(await socket.messages_in(chat.room_id, 1)) == ids([sent]), f"after {sent}")
    chat.last_seq = sent["seq"]
    await run.close_spares()
    for socket in (back, resumed, chat.bob_socket):
        await socket.close()
    say(f"{killed} restarted, and nginx gives it sockets again")


async def history(run: Run, chat: Chat, account: Account) -> list[tuple[int, str, str, str]]:
    answer = await run.http.get(
        f"/api/rooms/{chat.room_id}/messages",
        params={"after_seq": 0, "limit": 200},
        headers=account.headers,
    )
    check(answer.status_code == 200, f"history: {answer.text}")
    page = answer.json()
    check(not page["has_more"], "more than a page of history")
    return [(m["seq"], m["id"], m["kind"], m["body"]) for m in page["items"]]


async def survives_down_and_up(run: Run, chat: Chat, upload: Upload) -> None:
    before = await history(run, chat, chat.alice)
    check(before[-1][0] == chat.last_seq, f"history ends at {before[-1][0]}, not {chat.last_seq}")
    postgres_before = (await compose("ps", "-q", "postgres")).strip()
    await compose("down")  # containers and network; the volumes stay
    await compose("up", "-d", "--no-build")
    await run.ready_through_nginx(within=180)
    postgres_after = (await compose("ps", "-q", "postgres")).strip()
    check(postgres_after not in {"", postgres_before}, "postgres was not recreated")

    alice = await log_in(run.http, chat.alice.username)
    after = await history(run, chat, alice)
    check(after == before, f"history changed over down/up: {len(before)} -> {len(after)}")
    kept = await run.http.get(upload.file_url, headers=alice.headers)
    check(kept.status_code == 200 and kept.content == upload.content, "the uploaded file is lost")
    socket = await Socket.open(run.base_url, alice)
    replayed = await socket.subscribe(chat.room_id, since_seq=0)
    check([m["seq"] for m in replayed] == [seq for seq, *_ in before], "replay after down/up")
    latest = await socket.say_in(chat.room_id, "after down and up")
    check(latest["seq"] == chat.last_seq + 1, f"seq {latest['seq']} after {chat.last_seq}")
    await socket.close()
    say(f"down and up (postgres recreated): {len(after)} messages, the account and the file kept")


async def step(name: str, work: Awaitable[T]) -> T:
    sys.stdout.write(f"-- {name}\n")
    started = time.monotonic()
    try:
        result = await work
    except SmokeFailure as failure:
        raise SmokeFailure(f"{name}: {failure}") from failure
    except Exception as error:
        traceback.print_exc()
        raise SmokeFailure(f"{name}: {type(error).__name__} {error}") from error
    say(f"({time.monotonic() - started:.1f} s)")
    return result


async def smoke(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        run = Run(base_url, http)
        await run.ready_through_nginx(within=30)
        chat = await step("two users on two instances", two_instances(run))
        upload = await step("an upload, by the worker container", upload_by_the_worker(run, chat))
        await step("an instance killed and restarted; a socket resumes", kill_and_resume(run, chat))
        await step("the stack down and up; the data stays", survives_down_and_up(run, chat, upload))


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python deploy/local/smoke.py http://127.0.0.1:8080\n")
        return 2
    for variable in ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE"):
        if variable not in os.environ:
            sys.stderr.write(f"{variable} must name the stack (deploy/local.sh sets it)\n")
            return 2
    try:
        asyncio.run(smoke(sys.argv[1]))
    except SmokeFailure as failure:
        sys.stderr.write(f"smoke: FAILED: {failure}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
