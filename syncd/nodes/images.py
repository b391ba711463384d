"""Making an image present on a node: already there, built from the Git checkout, or pulled.

A build context comes from the repository, i.e. from whoever can push to it: it is resolved
(symlinks and ``..`` included) and refused when it leaves the checkout. A build from another
repository (``BuildSpec.root``: its commit's files, fetched by ``syncd.source.remote_builds``
in the sync layer's load phase, since nodes do not import source) gets the same checks inside
that commit's files; the caller passes that directory as ``repo_root``. Build and pull output is
streamed; the engine's own error line reaches the user verbatim (``COPY failed: ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import requests
from docker.utils import parse_repository_tag

from syncd.errors import BuildError, ImageBuildFailed, ImagePullFailed
from syncd.nodes.connection import EngineConnection
from syncd.spec.desired import BuildSpec

#: how many lines of build output an error message carries before the engine's error line
BUILD_OUTPUT_LINES = 5


def resolve_build_context(build: BuildSpec, repo_root: Path) -> tuple[Path, str]:
    """The context directory and the container file relative to it, both inside ``repo_root``.

    Raises BuildError when either escapes the checkout (a symlink or ``..``) or does not exist.
    """
    root = repo_root.resolve()
    context = _resolve_inside(
        root,
        build.context,
        "build context",
        "repository checkout",
        hint="keep repository.buildContext inside the repository, without symlinks out of it",
    )
    if not context.is_dir():
        where = "the remote repository's commit" if build.root else "the repository"
        raise BuildError(
            f"build context {build.context!r} is not a directory in {where}",
            hint="check repository.url and repository.buildContext in the definition",
        )
    container_file = _resolve_inside(
        context,
        build.container_file,
        "container file",
        "build context",
        hint="keep repository.containerFile inside the build context",
    )
    if not container_file.is_file():
        raise BuildError(
            f"container file {build.container_file!r} does not exist in build context "
            f"{build.context!r}",
            hint="check repository.containerFile in the definition",
        )
    return context, str(container_file.relative_to(context))


def _resolve_inside(parent: Path, relative: str, what: str, parent_is: str, *, hint: str) -> Path:
    """``parent / relative`` with links resolved; BuildError when that leaves ``parent``."""
    path = (parent / relative).resolve()
    if not path.is_relative_to(parent):
        raise BuildError(
            f"{what} {relative!r} resolves to {path}, outside the {parent_is} {parent}: refused",
            hint=hint,
        )
    return path


def ensure_image(
    connection: EngineConnection,
    image: str,
    build: BuildSpec | None,
    repo_root: Path | None,
    *,
    build_timeout_s: float,
) -> None:
    """Make ``image`` present on the connection's engine: there already, built from ``build``
    inside ``repo_root`` (and tagged ``image``), or pulled."""
    node_id = connection.node_id
    with connection.calling(f"checking image {image}") as api:
        if image_present(api, image):
            return
    if build is not None:
        if repo_root is None:
            raise BuildError(
                f"image {image} must be built from {build.context!r} but no repository "
                "checkout was given"
            )
        with connection.calling(f"building {build.image_tag}") as api:
            build_image(api, node_id, build, repo_root, timeout_s=build_timeout_s)
            if image != build.image_tag:
                repository, tag = parse_repository_tag(image)
                api.tag(build.image_tag, repository, tag or "latest")
        return
    with connection.calling(f"pulling {image}") as api:
        pull_image(api, node_id, image)


def image_present(api: docker.APIClient, image: str) -> bool:
    """True when the engine has ``image`` (one inspect call)."""
    try:
        api.inspect_image(image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.NotFound:
        return False
    return True


def build_image(
    api: docker.APIClient,
    node_id: str,
    build: BuildSpec,
    repo_root: Path,
    *,
    timeout_s: float,
) -> None:
    """Build ``build.image_tag`` from its context; ImageBuildFailed carries the engine's error
    line, BuildError a context that cannot be read."""
    context, container_file = resolve_build_context(build, repo_root)
    output: list[str] = []
    try:
        stream = _start_build(api, context, container_file, build.image_tag, timeout_s)
    except requests.RequestException:
        raise  # the engine did not answer: the driver reports the node unreachable
    except OSError as unreadable:  # docker-py tars the context here: an unreadable file
        raise BuildError(
            f"cannot read build context {build.context!r} for {build.image_tag}: {unreadable}",
            hint="make every file of the context readable by syncd, or exclude it in .dockerignore",
        ) from None
    for chunk in stream:
        error = _stream_error(chunk)
        if error is not None:
            raise ImageBuildFailed(
                build.image_tag,
                node_id,
                error,
                context=build.context,
                recent_output="".join(output[-BUILD_OUTPUT_LINES:]).rstrip(),
            )
        text = chunk.get("stream")
        if isinstance(text, str) and text.strip():
            output.append(text)


def _start_build(
    api: docker.APIClient, context: Path, container_file: str, tag: str, timeout_s: float
) -> Iterator[dict[str, Any]]:
    return api.build(
        path=str(context),
        dockerfile=container_file,
        tag=tag,
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        timeout=timeout_s,
        use_config_proxy=False,  # a proxy from ~/.docker/config.json would change the image
    )


def pull_image(api: docker.APIClient, node_id: str, image: str) -> None:
    """Pull ``image``; ImagePullFailed names the node and carries the engine's words."""
    repository, tag = parse_repository_tag(image)
    try:
        for chunk in api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            error = _stream_error(chunk)
            if error is not None:
                raise ImagePullFailed(image, node_id, error)
    except docker.errors.APIError as error:
        raise ImagePullFailed(image, node_id, str(error.explanation or error)) from None


def _stream_error(chunk: dict[str, Any]) -> str | None:
    if "error" in chunk or "errorDetail" in chunk:
        detail = chunk.get("errorDetail") or {}
        message = chunk.get("error") or detail.get("message") or "unknown error"
        return str(message).strip()
    return None
