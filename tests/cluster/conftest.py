"""Cluster tests: real ``parley serve`` processes on PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Cluster

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)


@contextlib.asynccontextmanager
async def _started(postgres_url: str, tmp_path: Path, instances: int) -> AsyncIterator[Cluster]:
    """``instances`` instances on a fresh database and the machine's Redis (own namespace)."""
    cluster = Cluster(postgres_url, SHARED_REDIS_URL, tmp_path)
    await cluster.start(instances)
    try:
        yield cluster
    finally:
        await cluster.close()


@pytest.fixture
async def cluster(postgres_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    async with _started(postgres_url, tmp_path, 2) as started:
        yield started


@pytest.fixture
async def one_instance(postgres_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    async with _started(postgres_url, tmp_path, 1) as started:
        yield started


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.url(0), timeout=30) as client:
        yield client
