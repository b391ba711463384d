"""What every transport's docker-py client has in common: no environment, an agreed API version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker

#: API version used until the engine tells us its own (Docker 20.10 speaks 1.41)
FALLBACK_API_VERSION = "1.41"


def _always_alive() -> bool:
    return True


@dataclass
class Connection:
    """A node's docker-py client and how to tell whether its transport still works."""

    api: docker.APIClient
    #: False once a long-lived transport (ssh) has died; unix and tcp reconnect per request
    is_alive: Callable[[], bool] = field(default=_always_alive)

    def close(self) -> None:
        self.api.close()


def new_api_client(base_url: str, *, call_timeout: float, **options: Any) -> docker.APIClient:
    """A low-level client that makes no call yet and ignores the environment: requests would
    prefer REQUESTS_CA_BUNDLE over the node's CA and route through env proxies. (docker-py's
    proxies from ~/.docker/config.json are kept out of containers by ``use_config_proxy=False``
    on every create and build.)"""
    api = docker.APIClient(
        base_url=base_url, version=FALLBACK_API_VERSION, timeout=call_timeout, **options
    )
    api.trust_env = False
    return api


def agree_api_version(api: docker.APIClient, *, connect_timeout: float) -> None:
    """Ask the engine for its API version (within ``connect_timeout``) and use the lower of it
    and docker-py's own default, as docker-py's ``version="auto"`` would.

    docker-py agrees on a version only inside its constructor, where it wraps every transport
    error into one DockerException (we tell refused, timed out and bad certificates apart) and
    before our ssh adapter is mounted; so we ask ``/version`` ourselves and set the one private
    field it keeps the answer in."""
    call_timeout = api.timeout
    api.timeout = connect_timeout
    try:
        server = api.version(api_version=False)
    finally:
        api.timeout = call_timeout
    server_api = str(server.get("ApiVersion") or FALLBACK_API_VERSION)
    default_api = docker.constants.DEFAULT_DOCKER_API_VERSION
    api._version = server_api if docker.utils.version_lt(server_api, default_api) else default_api
