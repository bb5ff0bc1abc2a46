"""Files only their owner may read: the embedded default's data dir and what Parley writes.

The data dir holds the SQLite database (messages, password hashes), the signing key and the
uploads. Parley makes its directories 0700 and its files 0600 whatever the umask: each is
created with that mode, never left to the umask and tightened afterwards, when another user
could already have opened it. A data dir that an earlier version, a backup restore or a hand
left open is closed when the embedded default starts (``prepare_data_dir``), and the log
says how many paths it tightened.

SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file, so the
database is created here, empty and 0600, before SQLite first opens it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from parley.core.settings import Settings

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "create_private_file",
    "make_private_dirs",
    "prepare_data_dir",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # the group's and everyone else's permissions

log = logging.getLogger(__name__)


def make_private_dirs(path: Path) -> None:
    """``path`` and whichever of its parents are missing, each made 0700."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process (or a file is there)
            if not directory.is_dir():
                raise


def create_private_file(path: Path) -> int:
    """A new file at ``path``, 0600, open for writing; ``FileExistsError`` if one is there."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)


def prepare_data_dir(settings: Settings) -> None:
    """The embedded default's data dir, private: made 0700 if missing, else every path in it
    tightened (directories 0700, files 0600) where the group or others had any right; the
    SQLite database created 0600 before SQLite makes it, and its journals tightened."""
    data_dir = settings.data_dir
    make_private_dirs(data_dir)
    tightened = _tighten_tree(data_dir)
    database = _sqlite_file(settings)
    if database is not None:
        _create_database(database)
        if not database.resolve().is_relative_to(data_dir.resolve()):
            journals = [Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
            tightened += sum(_tighten(path, PRIVATE_FILE) for path in journals)
    if tightened:
        log.warning(
            "data dir %s: tightened %d paths other users could read or enter: directories "
            "are now 0700 and files 0600",
            data_dir.resolve(),
            tightened,
        )


def _tighten_tree(root: Path) -> int:
    count = 0
    for directory, _, files in os.walk(root):  # symbolic links are not followed
        count += _tighten(Path(directory), PRIVATE_DIR)
        for name in files:
            count += _tighten(Path(directory, name), PRIVATE_FILE)
    return count


def _tighten(path: Path, mode: int) -> int:
    """1 when ``path`` let the group or others in and now does not, else 0."""
    try:
        current = path.lstat().st_mode
        if stat.S_ISLNK(current) or not stat.S_IMODE(current) & _OTHERS:
            return 0
        path.chmod(mode)
    except FileNotFoundError:
        return 0
    except OSError as error:  # another user's file: the operator must see to it
        log.warning("could not make %s private: %s", path, error)
        return 0
    return 1


def _sqlite_file(settings: Settings) -> Path | None:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return None
    return Path(url.database)


def _create_database(path: Path) -> None:
    # There already, or its directory missing (SQLite will say so): nothing to create.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(create_private_file(path))
