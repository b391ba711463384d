"""A definition built from another Git repository, end to end on a harness engine: the pass
fetches ``repository.url`` at ``version`` from a ``git daemon`` on loopback, builds it, runs
it; a second pass reads the cache; a new version rolls; a bad version or an unreachable URL is
refused at the definition with git's words while what runs keeps running."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from syncd.errors import RemoteSourceError, SpecError
from syncd.nodes.pool import NodePool
from syncd.plan import render
from syncd.source.remote_builds import RemoteBuildCache
from syncd.sync import Revision, Sync, SyncSettings
from testkit.harness import HarnessHandle
from testkit.harness.base_image import BASE_IMAGE
from testkit.harness.processes import free_port
from testkit.repo import TestRepo
from tests.apply.applykit import FAST_OPTIONS
from tests.source.git_daemon import AppRepo, GitServer, app_repo, git_server
from tests.source.gitrepos import git

DEPLOYMENT = "depl_remote"


def _app_files(version: str) -> dict[str, str]:
    """The served app at ``version``: prints its greeting, then stays up."""
    return {
        "service/greeting.txt": f"hello {version}\n",
        "service/Containerfile": (
            f"FROM {BASE_IMAGE}\nCOPY greeting.txt /greeting.txt\n"
            'CMD ["sh", "-c", "cat /greeting.txt && exec sleep 3600"]\n'
        ),
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitServer, AppRepo]]:
    base = tmp_path / "served"
    base.mkdir()
    app = app_repo(base)
    app.commit(_app_files("v1"), "a long-running v1", tag="r1")
    with git_server(base) as server:
        yield server, app


@pytest.fixture
def node_pool(engines: HarnessHandle) -> Iterator[NodePool]:
    with NodePool(engines.nodes[:1]) as pool:
        yield pool


@pytest.fixture
def client(engines: HarnessHandle) -> Iterator[docker.DockerClient]:
    raw = engines.docker(engines.nodes[0].id)
    yield raw
    for image in raw.images.list(name="syncd-build/def_remote"):
        with contextlib.suppress(docker.errors.APIError):
            raw.images.remove(image.id, force=True)


def _write(repo: TestRepo, url: str, version: str) -> None:
    definition = {
        "id": "def_remote",
        "repository": {
            "url": url,
            "version": version,
            "buildContext": "service",
            "containerFile": "Containerfile",
            "internalPorts": [8080],
        },
        "network": "none",
    }
    repo.write([{"id": DEPLOYMENT, "definitionId": "def_remote", "replicas": 1}], [definition])


def _greetings(client: docker.DockerClient) -> list[str]:
    containers = client.containers.list(filters={"label": f"io.syncd.deployment={DEPLOYMENT}"})
    return sorted(c.logs().decode().strip() for c in containers)


def test_a_remote_repository_is_built_cached_and_rolled(
    engines, served, node_pool, client, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    server, app = served
    cache = RemoteBuildCache(tmp_path / "state" / "remote-builds", timeout_s=20)
    sync = Sync(SyncSettings(remote_builds=cache), pool=node_pool, environ={}, options=FAST_OPTIONS)
    repo = TestRepo(tmp_path / "repo", list(engines.nodes[:1]))
    _write(repo, server.url("app"), "r1")

    first = sync.run(Revision(repo.root, "c1"))
    assert first.report is not None and first.report.ok, first.report
    commit_r1 = git(app.work, "rev-parse", "r1")
    image = first.loaded.desired.deployments[0].spec.image
    assert image.startswith(f"syncd-build/def_remote:{commit_r1[:12]}-")
    assert _greetings(client) == ["hello v1"]
    assert cache.fetches == 1

    # The same commit again (a second pass, here planned from scratch): resolved, not fetched.
    requests = server.upload_packs()
    second = sync.run(Revision(repo.root, "c1"))
    assert second.plan is not None and not second.plan.has_changes
    assert cache.fetches == 1 and server.upload_packs() == requests + 1  # one ls-remote

    # A new version is a new image: the plan shows it and the apply rolls the deployment.
    app.commit(_app_files("v2"), "v2", tag="r2")
    _write(repo, server.url("app"), "r2")
    third = sync.run(Revision(repo.root, "c2"))
    assert third.plan is not None and third.plan.has_changes
    assert "~ depl_remote: rolling-update" in render.text(third.plan)
    commit_r2 = git(app.work, "rev-parse", "r2")
    assert third.loaded.desired.deployments[0].spec.image.startswith(
        f"syncd-build/def_remote:{commit_r2[:12]}-"
    )
    assert third.report is not None and third.report.ok, third.report
    assert _greetings(client) == ["hello v2"]


def test_a_bad_version_or_an_unreachable_url_changes_nothing(
    engines, served, node_pool, client, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    cache = RemoteBuildCache(tmp_path / "state" / "remote-builds", timeout_s=20)
    sync = Sync(SyncSettings(remote_builds=cache), pool=node_pool, environ={}, options=FAST_OPTIONS)
    repo = TestRepo(tmp_path / "repo", list(engines.nodes[:1]))
    _write(repo, server.url("app"), "r1")
    assert sync.run(Revision(repo.root, "c1")).report.ok  # type: ignore[union-attr]
    running = _greetings(client)

    _write(repo, server.url("app"), "r9")
    with pytest.raises(SpecError) as bad_version:
        sync.run(Revision(repo.root, "c2"))
    (problem,) = bad_version.value.problems
    assert (problem.file, problem.path) == ("definitions/def_remote.yaml", "$.repository.version")
    assert "no such tag or branch" in problem.message

    # Unreachable is not the commit's fault: a retryable error (the daemon loads it again at
    # its next pass) that still names the definition, with git's own line.
    _write(repo, f"git://127.0.0.1:{free_port()}/app.git", "r1")
    with pytest.raises(RemoteSourceError) as unreachable:
        sync.run(Revision(repo.root, "c3"))
    assert unreachable.value.retryable
    assert unreachable.value.where == "definitions/def_remote.yaml:1: $.repository.url"
    assert "Connection refused" in unreachable.value.reason
    assert _greetings(client) == running == ["hello v1"]
