"""Settings: the contract's variables, their defaults, and the signing-key rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from parley.core.errors import ConfigurationError
from parley.core.secret_key import with_secret_key
from parley.core.settings import RateLimitMode, Settings


def test_defaults_are_the_embedded_default() -> None:
    settings = Settings()
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.data_dir == Path(".parley")
    assert settings.max_upload_bytes == 25 * 1024 * 1024
    assert settings.access_token_ttl == 900
    assert settings.rate_limits is RateLimitMode.ON
    assert settings.is_embedded
    assert settings.effective_database_url == "sqlite+aiosqlite:///.parley/parley.db"


def test_variables_are_read_with_the_parley_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_DATABASE_URL", "postgresql+asyncpg://db/parley")
    monkeypatch.setenv("PARLEY_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PARLEY_MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("PARLEY_ACCESS_TOKEN_TTL", "60")
    monkeypatch.setenv("PARLEY_RATE_LIMITS", "off")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+asyncpg://db/parley"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.max_upload_bytes == 1000
    assert settings.access_token_ttl == 60
    assert settings.rate_limits is RateLimitMode.OFF
    assert not settings.is_embedded


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PARLEY_ACCESS_TOKEN_TTL=120\n")
    assert Settings().access_token_ttl == 120


def test_redis_alone_makes_a_cluster_config() -> None:
    assert not Settings(redis_url="redis://localhost").is_embedded


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARLEY_MAX_UPLOAD_BYTES", "0"),
        ("PARLEY_ACCESS_TOKEN_TTL", "soon"),
        ("PARLEY_RATE_LIMITS", "maybe"),
    ],
)
def test_invalid_values_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_embedded_default_generates_a_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = with_secret_key(settings).secret_key
    second = with_secret_key(settings).secret_key
    assert first is not None
    assert second is not None
    assert len(first.get_secret_value()) >= 32
    assert first.get_secret_value() == second.get_secret_value()
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "overrides",
    [
        {"database_url": "postgresql+asyncpg://db/parley"},
        {"redis_url": "redis://localhost:6379"},
    ],
)
def test_a_cluster_config_without_a_key_refuses_to_start(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="PARLEY_SECRET_KEY is not set"):
        with_secret_key(Settings(**overrides))  # type: ignore[arg-type]


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        with_secret_key(Settings(secret_key=SecretStr("short")))
