"""Uploads as a client sees them: accepted at once, finished by a worker in its own time."""

from __future__ import annotations

import httpx

from tests.support.factories import Account, Json
from tests.support.waiting import eventually

__all__ = ["finished_upload"]


async def finished_upload(
    client: httpx.AsyncClient, account: Account, upload_id: object, *, within: float = 60
) -> Json:
    """The upload once a worker has finished with it (``done`` or ``failed``)."""

    async def upload() -> Json:
        response = await client.get(f"/api/uploads/{upload_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        found: Json = response.json()
        return found

    return await eventually(
        upload,
        lambda found: found["status"] != "processing",
        within=within,
        every=0.1,
        what=f"upload {upload_id} processed",
    )
