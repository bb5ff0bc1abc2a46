"""Every line a real ``parley serve`` and ``parley worker`` write is one JSON object, even
while the worker parses a PDF made to forge a line of its own in the worker's log."""

from __future__ import annotations

import httpx

from tests.support.factories import create_account, create_room
from tests.support.files import FORGED_LOG_LINE, pdf_forging_a_log_line
from tests.support.logs import json_log_entries
from tests.support.processes import Cluster
from tests.support.uploads import finished_upload


async def test_serve_and_worker_write_json_lines_only(one_instance: Cluster) -> None:
    cluster = one_instance
    worker = await cluster.start_worker(concurrency=1)
    async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as api:
        account = await create_account(api)
        room_id = (await create_room(api, account))["id"]
        accepted = await api.post(
            f"/api/rooms/{room_id}/uploads",
            files={"file": (f"minutes\n{FORGED_LOG_LINE}\n.pdf", pdf_forging_a_log_line())},
            headers=account.headers,
        )
        assert accepted.status_code == 202, accepted.text
        upload = await finished_upload(api, account, accepted.json()["id"])
        assert upload["status"] == "done"
    await cluster.close()
    assert worker.returncode == 0

    served = json_log_entries(cluster.instances[0].log.read_text())
    assert any(entry["logger"] == "uvicorn.access" for entry in served)
    worked = json_log_entries((cluster.workdir / "worker-0.log").read_text())
    assert any(entry["msg"].startswith("worker ") for entry in worked)  # started, stopped
    for entry in served + worked:
        assert entry["logger"] != "parley.auth", entry
    # pypdf's error about the font, written in the processing process, is a line of ours.
    [pypdf] = [entry for entry in worked if entry["logger"] == "pypdf._cmap"]
    assert FORGED_LOG_LINE in pypdf["msg"]
