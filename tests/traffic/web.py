"""The routed web test service against real engines: busybox httpd on the address and private
port syncd hands it (host networking), answering its ``VERSION``; and a bounded request loop.

``MODE=ok`` serves; ``crash`` exits 3 at once; ``late_sick`` serves, then fails its health check
a few seconds after it started (a canary that goes bad once it has traffic); ``never_healthy``
starts and serves its page but never its health check (a version that never becomes ready).

The addresses and ports differ from tests/proxy's (127.0.0.2...): all harnesses of one machine
share its network namespace, so two test runs at once must not bind the same ones.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from syncd.nodes.pool import NodePool
from syncd.spec.models import NodeSpec, ProxySettings
from syncd.sync.revisions import Revision
from syncd.sync.settings import SyncSettings
from syncd.sync.syncing import Sync, SyncResult
from testkit.harness import PROXY_IMAGE, HarnessHandle
from testkit.harness.base_image import BASE_IMAGE
from testkit.services import node_document

ADDRESSES = {"node-a": "127.0.0.12", "node-b": "127.0.0.13", "node-c": "127.0.0.14"}
STABLE_PORT = 18190
DEPLOYMENT = "depl_web"
EventHook = Callable[[Any], None]
URL_A = f"http://{ADDRESSES['node-a']}:{STABLE_PORT}/"
ROLLING = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0, "drainTimeout": "5s"}

WEB_SCRIPT = (
    'trap "exit 0" TERM; '
    'if [ "$MODE" = crash ]; then echo "boom: version $VERSION"; exit 3; fi; '
    'mkdir -p /w && echo "$VERSION" > /w/index.html; '
    '[ "$MODE" = never_healthy ] || echo ok > /w/health; '
    'if [ "$MODE" = late_sick ]; then (sleep 6; rm -f /w/health) & fi; '
    'httpd -f -p "$HOST:$PORT" -h /w & wait'
)


def proxied_node(node: NodeSpec) -> NodeSpec:
    return dataclasses.replace(
        node, proxy=ProxySettings(PROXY_IMAGE, ADDRESSES[node.id], (23000, 23999))
    )


def node_a(harness: HarnessHandle) -> tuple[list[NodeSpec], NodePool]:
    """node-a alone, with its proxy settings, and a pool over it (the caller closes it)."""
    nodes = [proxied_node(harness.node("node-a"))]
    return nodes, NodePool(nodes)


def web_definition() -> dict[str, Any]:
    return {
        "id": "def_web",
        "image": {"name": BASE_IMAGE, "internalPorts": [8080]},
        "command": ["sh", "-c", WEB_SCRIPT],
        "network": "host",
        "ports": [{"internal": 8080, "host": STABLE_PORT, "routed": True}],
        "healthCheck": {
            "http": {"path": "/health", "port": 8080},
            "interval": "1s",
            "timeout": "2s",
            "retries": 2,
        },
        "envars": [{"key": "MODE", "value": "ok"}],
    }


def write_web_repo(
    root: Path,
    nodes: list[NodeSpec],
    *,
    version: str,
    replicas: int,
    strategy: dict[str, Any],
    mode: str = "ok",
) -> Path:
    for folder in ("deployments", "definitions", "nodes"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    deployment = {
        "id": DEPLOYMENT,
        "definitionId": "def_web",
        "replicas": replicas,
        "envars": {"VERSION": version, "MODE": mode},
        "strategy": strategy,
    }
    (root / "deployments" / f"{DEPLOYMENT}.yaml").write_text(yaml.safe_dump(deployment))
    (root / "definitions" / "def_web.yaml").write_text(yaml.safe_dump(web_definition()))
    for node in nodes:
        document = node_document(node)
        document["proxy"] = {
            "image": node.proxy.image,
            "address": node.proxy.address,
            "instancePorts": "-".join(map(str, node.proxy.instance_ports)),
        }
        (root / "nodes" / f"{node.id}.yaml").write_text(yaml.safe_dump(document))
    return root


def one_pass(
    pool: NodePool,
    root: Path,
    events: EventHook | None = None,
    settings: SyncSettings | None = None,
) -> SyncResult:
    """One ``Sync.run`` of the repository at ``root`` over ``pool``."""
    with Sync(settings or SyncSettings(), pool=pool, environ={}) as sync:
        return sync.run(Revision(root), events=events)


def applied(pool: NodePool, root: Path) -> None:
    """The setup pass of a test. Level-triggered like the daemon: a pass whose outcome is
    retryable (on a loaded machine an instance has crash-looped once at start) is followed by
    one more, which must converge; the reasons of both are in the failure message."""
    report = one_pass(pool, root).report
    assert report is not None
    if not report.ok and all(r.retryable for r in report.failures):
        first = [r.reason for r in report.failures]
        report = one_pass(pool, root).report
        assert report is not None and report.ok, (first, report and report.failures)
    assert report.ok, [r.reason for r in report.failures]


def version_1_applied(
    pool: NodePool, nodes: list[NodeSpec], folder: Path, replicas: int, strategy: dict[str, Any]
) -> Path:
    """The web repository at version 1, written in ``folder`` and converged: every test's
    starting point."""
    root = write_web_repo(folder, nodes, version="1", replicas=replicas, strategy=strategy)
    applied(pool, root)
    return root


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bytes(response.read()).decode().strip()


@dataclass
class RequestLoop:
    """Sequential requests to ``urls`` (round robin) on a thread, until stopped and at least
    ``minimum`` were made (never more than ``maximum``). ``window`` marks the answers counted in
    ``in_window`` (a canary step)."""

    urls: list[str]
    minimum: int = 1000
    maximum: int = 200_000
    failures: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    in_window: Counter[str] = field(default_factory=Counter)
    window: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RequestLoop:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=300)

    def wait_for_window(self, count: int, timeout_s: float = 120.0) -> None:
        """Until ``count`` answers fell in the window (or the timeout)."""
        deadline = threading.Event()
        timer = threading.Timer(timeout_s, deadline.set)
        timer.start()
        while sum(self.in_window.values()) < count and not deadline.is_set():
            deadline.wait(0.05)
        timer.cancel()

    def _run(self) -> None:
        made = 0
        while made < self.maximum and (made < self.minimum or not self._stop.is_set()):
            url = self.urls[made % len(self.urls)]
            try:
                version = get(url)
                self.versions.append(version)
                if self.window.is_set():
                    self.in_window[version] += 1
            except (OSError, http.client.HTTPException) as error:  # refused, reset, cut short
                self.failures.append(f"{url}: {error!r}")
            made += 1

    @property
    def made(self) -> int:
        return len(self.versions) + len(self.failures)

    def flips(self) -> int:
        return sum(1 for a, b in zip(self.versions, self.versions[1:], strict=False) if a != b)
