"""The embedded default killed (SIGKILL, as the kernel's OOM killer would): the worker it runs
in-process goes with it, and so must everything that worker started."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.support.factories import create_account, create_room
from tests.support.files import png
from tests.support.process_trees import RESOURCE_TRACKER, all_ended, descendants
from tests.support.processes import EmbeddedServer
from tests.support.uploads import finished_upload


async def test_a_killed_server_leaves_none_of_its_processes_behind(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path)
    await server.start()
    process = server.instance.process
    assert process is not None
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            account = await create_account(client)
            room_id = (await create_room(client, account))["id"]
            response = await client.post(
                f"/api/rooms/{room_id}/uploads",
                files={"file": ("a.png", png())},
                headers=account.headers,
            )
            assert response.status_code == 202, response.text
            upload = await finished_upload(client, account, response.json()["id"])
            assert upload["status"] == "done", upload
        helpers = descendants(process.pid)
        commands = [" ".join(helper.cmdline()) for helper in helpers]
        assert sum(RESOURCE_TRACKER in command for command in commands) == 1, commands
        assert len(helpers) >= 2, commands  # the tracker and the file's processing process
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await all_ended(helpers, within=10)
    finally:
        await server.stop()
