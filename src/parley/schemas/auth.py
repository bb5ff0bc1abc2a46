from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from parley.schemas.base import ApiModel
from parley.schemas.users import DisplayName, Password, Username

__all__ = ["LoginRequest", "RefreshRequest", "RegisterRequest", "TokenPair"]


class RegisterRequest(ApiModel):
    username: Username
    password: Password
    display_name: DisplayName | None = None


class LoginRequest(ApiModel):
    # Not the registration rules: a login with a malformed name simply fails as unknown.
    username: str = Field(max_length=256, examples=["alice"])
    password: str = Field(max_length=1024, examples=["correct horse battery"])


class RefreshRequest(ApiModel):
    refresh_token: str = Field(max_length=256)


class TokenPair(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…",
                    "refresh_token": "JJExBTBeLWnwSeLhpluBsfJxZU70XvhbYWiDzSIyLD4",
                    "token_type": "bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
