"""Metrics after real traffic, and logs that never carry a token or a password."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx

from tests.support.factories import DEFAULT_PASSWORD, create_account, create_room
from tests.support.files import png
from tests.support.processes import EmbeddedServer
from tests.support.uploads import finished_upload
from tests.support.waiting import eventually
from tests.support.ws import WsClient


def _samples(exposition: str) -> dict[str, float]:
    """``name{labels}`` -> value, for every sample line."""
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _total(samples: dict[str, float], prefix: str) -> float:
    return sum(value for name, value in samples.items() if name.startswith(prefix))


async def test_metrics_after_real_traffic(client: httpx.AsyncClient, server_url: str) -> None:
    alice, bob = await create_account(client), await create_account(client)
    room_id = (await create_room(client, alice))["id"]
    await client.post(f"/api/rooms/{room_id}/join", headers=bob.headers)
    reader = await WsClient.authenticated(server_url, bob.access_token)
    writer = await WsClient.authenticated(server_url, alice.access_token)
    await reader.subscribe(room_id)
    for n in range(5):
        await writer.send(
            {"type": "send", "room_id": room_id, "body": f"m{n}", "client_id": f"c{n}"}
        )
        await writer.recv_type("ack")
    await reader.messages(room_id, 5)
    upload = await client.post(
        f"/api/rooms/{room_id}/uploads",
        files={"file": ("p.png", png(), "image/png")},
        headers=alice.headers,
    )
    upload_id = upload.json()["id"]
    polls = 0

    async def processed() -> bool:
        nonlocal polls
        polls += 1
        answer = await client.get(f"/api/uploads/{upload_id}", headers=alice.headers)
        return bool(answer.json()["status"] == "done")

    await eventually(processed, within=30, every=0.1)
    [image] = await reader.messages(room_id, 1)
    assert image["kind"] == "image"

    samples = _samples((await client.get("/metrics")).text)
    login = 'parley_http_requests_total{method="POST",route="/api/auth/login",status="200"}'
    assert samples[login] == 2
    upload_reads = (
        'parley_http_request_duration_seconds_count{method="GET",route="/api/uploads/{upload_id}"}'
    )
    assert _total(samples, upload_reads) == polls
    assert samples["parley_websocket_connections"] == 2
    # Bob's join (a system message), five texts and the image.
    assert samples["parley_messages_stored_total"] == 7
    assert samples["parley_messages_delivered_total"] == 6  # what came after he subscribed
    assert samples["parley_delivery_latency_seconds_count"] == 6
    assert (
        0
        < samples["parley_delivery_latency_seconds_sum"]
        / samples["parley_delivery_latency_seconds_count"]
        < 1
    )
    assert samples["parley_broker_reconnects"] == 0
    assert samples['parley_jobs_total{outcome="done"}'] == 1
    assert samples['parley_job_duration_seconds_count{outcome="done"}'] == 1
    for gauge in ("parley_queue_depth", "parley_queue_in_flight", "parley_queue_dead_letters"):
        assert samples[gauge] == 0
    assert "parley_queue_retries" in samples
    await reader.close()
    await writer.close()


async def test_no_log_line_carries_a_token_or_a_password(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path)
    await server.start()
    secrets: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            password = f"{DEFAULT_PASSWORD} sekrit-{tmp_path.name[-6:]}"
            alice = await create_account(client, password=password)
            secrets += [password, alice.access_token, alice.refresh_token]
            refreshed = (
                await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
            ).json()
            secrets += [refreshed["access_token"], refreshed["refresh_token"]]
            # Failed attempts too: a wrong password and a mangled token.
            await client.post(
                "/api/auth/login",
                json={"username": alice.username, "password": "wrong-" + password},
            )
            secrets.append("wrong-" + password)
            await client.get(
                "/api/users/me", headers={"Authorization": f"Bearer {alice.access_token}x"}
            )
            room_id = (await create_room(client, alice))["id"]
            socket = await WsClient.authenticated(server.url, refreshed["access_token"])
            await socket.send({"type": "send", "room_id": room_id, "body": "hi", "client_id": "c"})
            await socket.recv_type("ack")
            await socket.send({"type": "auth", "token": "garbage." + alice.access_token})
            upload = await client.post(
                f"/api/rooms/{room_id}/uploads",
                files={"file": ("p.png", png(), "image/png")},
                headers={"Authorization": f"Bearer {refreshed['access_token']}"},
            )
            uploader = dataclasses.replace(alice, access_token=refreshed["access_token"])
            # The in-process worker has logged its job by the time the upload is done.
            await finished_upload(client, uploader, upload.json()["id"])
            await client.post(
                "/api/auth/logout", json={"refresh_token": refreshed["refresh_token"]}
            )
    finally:
        await server.stop()
    lines = server.instance.log.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) > 10
    assert all({"ts", "level", "logger", "msg"} <= record.keys() for record in records)
    assert any("request_id" in record for record in records)
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", text)
