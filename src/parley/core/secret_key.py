"""The JWT signing key: required in a cluster, generated once for the embedded default."""

from __future__ import annotations

import os
import secrets

from pydantic import SecretStr

from parley.core.errors import ConfigurationError
from parley.core.private_files import create_private_file, make_private_dirs
from parley.core.settings import Settings

__all__ = ["with_secret_key"]

_KEY_FILE = "secret_key"
_MIN_KEY_LENGTH = 32


def with_secret_key(settings: Settings) -> Settings:
    """Return settings whose ``secret_key`` is set, or raise ``ConfigurationError``.

    Instances of a cluster must share one key, so a generated one would silently break
    every token minted elsewhere: there the key is required. The embedded default keeps a
    generated key in the data dir so that tokens survive a restart.
    """
    if settings.secret_key is not None:
        if len(settings.secret_key.get_secret_value()) < _MIN_KEY_LENGTH:
            msg = f"PARLEY_SECRET_KEY must be at least {_MIN_KEY_LENGTH} characters long."
            raise ConfigurationError(msg)
        return settings
    if not settings.is_embedded:
        msg = (
            "PARLEY_SECRET_KEY is not set. With PostgreSQL or Redis configured, every "
            "instance must share one signing key: set PARLEY_SECRET_KEY to a long random "
            'string, for example the output of `python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"`.'
        )
        raise ConfigurationError(msg)
    return settings.model_copy(update={"secret_key": SecretStr(_load_or_create(settings))})


def _load_or_create(settings: Settings) -> str:
    make_private_dirs(settings.data_dir)
    path = settings.data_dir / _KEY_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    # Exclusive: two processes starting at once agree on the first key written.
    try:
        fd = create_private_file(path)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key)
    return key
