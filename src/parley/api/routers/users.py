from __future__ import annotations

from fastapi import APIRouter

from parley.api.deps import CurrentUser
from parley.api.responses import AUTHENTICATED
from parley.schemas.users import UserOut

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", summary="The signed-in user", responses=AUTHENTICATED)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
