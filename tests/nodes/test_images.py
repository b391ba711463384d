"""ensure_image: present, built from a context inside the checkout (errors verbatim), or pulled."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from syncd.errors import BuildError
from syncd.nodes.docker_node import DockerNode
from syncd.spec.desired import BuildSpec
from testkit.harness import BASE_IMAGE, free_port


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with a buildable context (app/) and one whose COPY names a missing file."""
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "hello.txt").write_text("hello from the repo\n")
    (root / "app" / "Dockerfile").write_text(
        f'FROM {BASE_IMAGE}\nCOPY hello.txt /www/hello.txt\nCMD ["cat", "/www/hello.txt"]\n'
    )
    (root / "broken").mkdir()
    (root / "broken" / "Containerfile").write_text(f"FROM {BASE_IMAGE}\nCOPY missing.txt /x\n")
    return root


@pytest.fixture
def tag(raw: docker.DockerClient) -> Iterator[str]:
    name = f"syncd-test-build/app:{uuid.uuid4().hex[:12]}"
    yield name
    with contextlib.suppress(docker.errors.ImageNotFound):
        raw.images.remove(name, force=True)


def _build(context: str, container_file: str, tag: str) -> BuildSpec:
    return BuildSpec(
        context=context, container_file=container_file, content_hash="0" * 64, image_tag=tag
    )


def test_build_from_the_checkout_then_present(
    driver: DockerNode, raw: docker.DockerClient, repo: Path, tag: str
) -> None:
    driver.ensure_image(tag, _build("app", "Dockerfile", tag), repo)
    output = raw.containers.run(tag, network_mode="none", remove=True)
    assert output == b"hello from the repo\n"
    before = driver.api_calls
    driver.ensure_image(tag, _build("app", "Dockerfile", tag), repo)
    assert driver.api_calls - before == 1  # one inspect: already present, nothing built


def test_a_failing_copy_reaches_the_message_verbatim(
    driver: DockerNode, repo: Path, tag: str
) -> None:
    with pytest.raises(BuildError) as caught:
        driver.ensure_image(tag, _build("broken", "Containerfile", tag), repo)
    message = str(caught.value)
    assert message.startswith(f"building {tag} from 'broken' on node {driver.node_id} failed: ")
    assert (
        "COPY failed: file not found in build context or excluded by .dockerignore: "
        "stat missing.txt: file does not exist" in message
    )


@pytest.mark.parametrize("transport", ["unix"], indirect=True)
def test_contexts_that_leave_the_checkout_are_refused(
    driver: DockerNode, repo: Path, tmp_path: Path, tag: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\n")
    (repo / "escape").symlink_to(outside)
    for context, container_file, expected in [
        ("../outside", "Dockerfile", "outside the repository checkout"),
        ("escape", "Dockerfile", "outside the repository checkout"),
        ("app", "../../outside/Dockerfile", "outside the build context"),
        ("nothing-here", "Dockerfile", "is not a directory in the repository"),
        ("app", "Nofile", "does not exist in build context 'app'"),
    ]:
        with pytest.raises(BuildError, match=expected):
            driver.ensure_image(tag, _build(context, container_file, tag), repo)
    with pytest.raises(BuildError, match="no repository checkout was given"):
        driver.ensure_image(tag, _build("app", "Dockerfile", tag), None)


@pytest.mark.parametrize("transport", ["unix"], indirect=True)
def test_an_absent_image_that_cannot_be_pulled(driver: DockerNode) -> None:
    # a registry on a loopback port nobody listens on: the pull fails at once, offline
    image = f"127.0.0.1:{free_port()}/syncd-test/absent:1"
    with pytest.raises(
        BuildError, match=f"image {image} is not present on node node-a and could not be pulled: "
    ) as caught:
        driver.ensure_image(image, None, None)
    assert "connection refused" in str(caught.value)


@pytest.mark.parametrize("transport", ["unix"], indirect=True)
def test_a_present_image_needs_nothing(driver: DockerNode) -> None:
    before = driver.api_calls
    driver.ensure_image(BASE_IMAGE, None, None)
    assert driver.api_calls - before == 2  # connect (/version) and one inspect
