"""Typed settings read from ``PARLEY_*`` environment variables and an optional ``.env``."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from limits import parse
from pydantic import AfterValidator, BeforeValidator, Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from parley.core import urls

__all__ = ["RateLimitMode", "Settings", "module_names"]

MIB = 1024 * 1024


def _valid_rate(text: str) -> str:
    try:
        parse(text)
    except ValueError as error:
        msg = f"not a rate limit like '10/minute' or '30 per 10 seconds': {text!r}"
        raise ValueError(msg) from error
    return text


RateLimitText = Annotated[str, AfterValidator(_valid_rate)]

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def module_names(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``a.b,c`` to ``("a.b", "c")``: a comma list of dotted module names, blanks left out."""
    names = text.split(",") if isinstance(text, str) else text
    modules = tuple(name.strip() for name in names if name.strip())
    for module in modules:
        if not _MODULE_NAME.fullmatch(module):
            msg = f"not a dotted module name like 'myapp.tasks': {module!r}"
            raise ValueError(msg)
    return modules


# A comma list, not JSON: pydantic-settings would otherwise decode the variable as JSON.
ModuleNames = Annotated[tuple[str, ...], NoDecode, BeforeValidator(module_names)]
DatabaseUrl = Annotated[str, AfterValidator(urls.database_url)]
RedisUrl = Annotated[str, AfterValidator(urls.redis_url)]


class RateLimitMode(StrEnum):
    ON = "on"
    OFF = "off"


class Settings(BaseSettings):
    """Every setting Parley reads. ``docs/operations.md`` lists the same fields (a test checks)."""

    model_config = SettingsConfigDict(
        env_prefix="PARLEY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: DatabaseUrl | None = Field(
        default=None,
        description="SQLAlchemy async URL (postgres:// and postgresql:// mean asyncpg); "
        "unset means a SQLite file under the data dir.",
    )
    database_pool_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=10,
        description="PostgreSQL connections each process keeps open; past them, requests wait.",
    )
    redis_url: RedisUrl | None = Field(
        default=None,
        description="redis:// URL; unset means the in-process broker, queue and limits.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="JWT signing key; generated into the data dir on the embedded default.",
    )
    data_dir: Path = Field(
        default=Path(".parley"),
        description="Where the embedded database, the uploads and the generated key live.",
    )
    max_upload_bytes: Annotated[int, Field(gt=0)] = Field(
        default=25 * MIB, description="Largest upload accepted, in bytes."
    )
    max_body_bytes: Annotated[int, Field(ge=64 * 1024)] = Field(
        default=MIB,
        description="Largest request body accepted outside uploads, in bytes; larger is 413.",
    )
    header_timeout: Annotated[float, Field(gt=0, le=300)] = Field(
        default=15.0,
        description="Seconds a connection has to send a request's headers; then it is closed.",
    )
    body_timeout: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=30.0,
        description="Seconds a request body may take to arrive (uploads: more, by their "
        "rate); slower ones are answered 408.",
    )
    upload_min_rate: Annotated[int, Field(ge=1024)] = Field(
        default=32 * 1024,
        description="Bytes per second that buy an upload a second more than the body timeout.",
    )
    access_token_ttl: Annotated[int, Field(ge=10, le=86_400)] = Field(
        default=900, description="Access-token lifetime in seconds."
    )
    refresh_token_ttl: Annotated[int, Field(ge=60)] = Field(
        default=30 * 86_400, description="Refresh-token lifetime in seconds."
    )
    redis_namespace: str = Field(
        default="parley",
        pattern=r"^[A-Za-z0-9_.-]{1,40}$",
        description="Prefix of every Redis key and channel (several clusters on one Redis).",
    )
    ws_max_frame_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=64 * 1024, description="Largest WebSocket frame accepted; larger closes with 1009."
    )
    ws_send_queue: Annotated[int, Field(ge=16)] = Field(
        default=1024,
        description="Frames queued per socket before a too-slow client is closed with 1013.",
    )
    presence_max_room_size: Annotated[int, Field(ge=0)] = Field(
        default=100,
        description="Rooms with more members get no presence events (clients poll instead).",
    )
    run_worker: bool | None = Field(
        default=None,
        description="Run a queue worker inside `serve`; unset: yes on the embedded default, "
        "no with Redis (run `parley worker` processes instead).",
    )
    worker_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(
        default=4,
        description="A worker's processing processes; it runs twice as many jobs at once.",
    )
    task_modules: ModuleNames = Field(
        default=(),
        description="Modules (a comma list) a worker imports as it starts, which register "
        "commands and their handlers; `parley worker --tasks` names them instead.",
    )
    job_timeout: Annotated[float, Field(gt=0)] = Field(
        default=120.0,
        description="Seconds a job may run before it counts as failed, its file's time in a "
        "processing process aside; a file may spend half of it in CPU.",
    )
    job_max_attempts: Annotated[int, Field(ge=1)] = Field(
        default=5, description="Attempts before a job goes to the dead letters."
    )
    job_reclaim_after: Annotated[float, Field(gt=0)] = Field(
        default=30.0,
        description="Seconds after which a dead worker's jobs are handed to another worker.",
    )
    max_image_pixels: Annotated[int, Field(gt=0)] = Field(
        default=50_000_000,
        description="Largest image (in pixels) decoded; larger ones fail as decompression bombs.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (JSON list); none by default.",
    )
    trusted_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Host headers accepted (JSON list, `*.example.com` allowed); all by default.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Proxies (JSON list of addresses or networks) whose X-Forwarded-For names "
        "the client; none by default, and the peer is the client.",
    )
    api_docs: bool = Field(default=True, description="Serve the OpenAPI page at /docs.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics needs `Authorization: Bearer <token>`; "
        "unset, it is open (keep it on the operator's network).",
    )
    rate_limits: RateLimitMode = Field(
        default=RateLimitMode.ON, description="`off` switches every rate limit off."
    )
    rate_limit_login: RateLimitText = Field(
        default="10/minute",
        description="Failed sign-ins per client address and username; past it, that address "
        "may not sign in as that user.",
    )
    rate_limit_login_address: RateLimitText = Field(
        default="30/minute",
        description="Failed sign-ins per client address, whatever the username.",
    )
    rate_limit_register: RateLimitText = Field(
        default="10/hour", description="Accounts registered per client address."
    )
    rate_limit_messages: RateLimitText = Field(
        default="30/10 seconds", description="Messages sent per user (REST and WebSocket alike)."
    )
    rate_limit_uploads: RateLimitText = Field(default="20/minute", description="Uploads per user.")
    rate_limit_connections: RateLimitText = Field(
        default="60/minute", description="New WebSocket connections per client address."
    )
    rate_limit_typing: RateLimitText = Field(
        default="5/5 seconds",
        description="`typing` frames per user; those past it are dropped silently.",
    )
    rate_limit_rooms: RateLimitText = Field(
        default="20/hour", description="Rooms and direct-message rooms created per user."
    )
    rate_limit_members: RateLimitText = Field(
        default="20/minute", description="Members added to rooms per user."
    )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "parley.db"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def serves_worker(self) -> bool:
        return self.run_worker if self.run_worker is not None else self.redis_url is None

    @property
    def files_dir(self) -> Path:
        """Uploads and thumbnails: a directory every instance and worker must share."""
        return self.data_dir / "files"

    @property
    def is_embedded(self) -> bool:
        """True when nothing outside this process is configured: SQLite and no Redis."""
        return self.redis_url is None and self.effective_database_url.startswith("sqlite")
