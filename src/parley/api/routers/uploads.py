"""Uploading files, following their processing, and fetching them back (members only)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import StreamingResponse

from parley.api.body_limit import allow_upload
from parley.api.deps import SignedInUser, StateDep
from parley.api.multipart_stream import file_part
from parley.api.responses import AUTHENTICATED, error
from parley.composition.state import AppState
from parley.core.errors import NotFound, PayloadTooLarge
from parley.db.models import UploadStatus
from parley.schemas.uploads import UploadAccepted, UploadOut
from parley.services.upload_processing import thumbnail_key
from parley.services.uploads import UploadService

__all__ = ["router"]

router = APIRouter(tags=["uploads"], responses=AUTHENTICATED)

# Room for the multipart framing around the file itself.
_MULTIPART_OVERHEAD = 16 * 1024
_NOT_FOUND = error(404, "No such upload or room, or you are not a member (`not_found`)")


async def upload_service(state: StateDep) -> UploadService:
    return UploadService(
        state.session_factory,
        storage=state.storage,
        queue=state.queue,
        events=state.events,
        max_bytes=state.settings.max_upload_bytes,
    )


UploadServiceDep = Annotated[UploadService, Depends(upload_service)]


@router.post(
    "/rooms/{room_id}/uploads",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload a file (multipart, field `file`); processed in the background",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
    responses=_NOT_FOUND
    | error(400, "Not a multipart/form-data body with a `file` field (`bad_request`)")
    | error(413, "Larger than PARLEY_MAX_UPLOAD_BYTES (`too_large`)")
    | error(415, "Not an image, PDF or text file, judged by its content (`unsupported_type`)")
    | error(429, "Uploading too fast; see `Retry-After` (`rate_limited`)"),
)
async def upload(
    room_id: uuid.UUID,
    request: Request,
    user: SignedInUser,
    uploads: UploadServiceDep,
    state: StateDep,
) -> UploadAccepted:
    await uploads.check_room(user, room_id)
    await state.enforce(state.rules.uploads, f"user:{user.id}")
    declared = int(request.headers.get("content-length") or 0)
    if declared > state.settings.max_upload_bytes + _MULTIPART_OVERHEAD:
        # Refused before reading a byte of the body.
        raise PayloadTooLarge(f"Files may be at most {state.settings.max_upload_bytes} bytes.")
    allow_upload(request, state.settings.max_upload_bytes + _MULTIPART_OVERHEAD)
    part = await file_part(request)
    accepted = await uploads.accept(user, room_id, part.filename, part.chunks)
    return UploadAccepted.of(accepted)


@router.get("/uploads/{upload_id}", summary="An upload's status and result", responses=_NOT_FOUND)
async def get_upload(
    upload_id: uuid.UUID, user: SignedInUser, uploads: UploadServiceDep
) -> UploadOut:
    return UploadOut.of(await uploads.get(user, upload_id))


@router.get(
    "/uploads/{upload_id}/file",
    summary="The uploaded file, once processed (verified, and without its metadata)",
    response_class=StreamingResponse,
    responses=error(
        404,
        "No such upload or room, or you are not a member; or the upload is still being "
        "processed, or it failed and its file is deleted (`not_found`)",
    ),
)
async def get_file(
    upload_id: uuid.UUID, user: SignedInUser, uploads: UploadServiceDep, state: StateDep
) -> StreamingResponse:
    upload = await uploads.get(user, upload_id)
    # Only the worker's output is served: until then the file is unverified and may still
    # carry its location; a failed upload's bytes are hostile or damaged, and deleted.
    if upload.status is UploadStatus.FAILED:
        raise NotFound("This upload failed; its file is not kept.")
    if upload.status is not UploadStatus.DONE:
        raise NotFound("This upload is still being processed.")
    return _stream(state, upload.storage_key, upload.content_type, upload.filename)


@router.get(
    "/uploads/{upload_id}/thumbnail",
    summary="An image's thumbnail (WebP, at most 512 px a side)",
    response_class=StreamingResponse,
    responses=_NOT_FOUND,
)
async def get_thumbnail(
    upload_id: uuid.UUID, user: SignedInUser, uploads: UploadServiceDep, state: StateDep
) -> StreamingResponse:
    upload = await uploads.get(user, upload_id)
    if upload.status is not UploadStatus.DONE or not (upload.result or {}).get("thumbnail_url"):
        raise NotFound("This upload has no thumbnail (yet).")
    return _stream(state, thumbnail_key(upload), "image/webp", None)


def _stream(state: AppState, key: str, media_type: str, filename: str | None) -> StreamingResponse:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
        # Whatever a file holds, a browser never runs it as a page of this origin.
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    }
    if filename is not None:
        headers["Content-Disposition"] = _disposition(filename)
    return StreamingResponse(state.storage.stream(key), media_type=media_type, headers=headers)


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
