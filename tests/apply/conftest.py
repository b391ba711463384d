"""Fixtures for apply tests: a pool over the harness engines and a repository to rewrite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.nodes.pool import NodePool
from tests.apply.applykit import TestRepo


@pytest.fixture
def pool(engines) -> Iterator[NodePool]:  # type: ignore[no-untyped-def]
    with NodePool(engines.nodes) as node_pool:
        yield node_pool


@pytest.fixture
def repo(engines, tmp_path: Path) -> TestRepo:  # type: ignore[no-untyped-def]
    return TestRepo(tmp_path / "repo", list(engines.nodes))
