"""The real proxy on real engines: apply, hitless reloads, draining, healing, typed errors."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable

import pytest

from syncd.errors import ProxyImageMissing, ProxyPortTaken
from syncd.nodes.pool import NodePool
from syncd.nodes.proxy.config import CONFIG_PATH, CONTROL_PORT
from syncd.nodes.proxy.haproxy import PROXY_CONTAINER
from syncd.nodes.proxy.model import Backend, Route
from syncd.spec.models import NodeSpec
from testkit.harness import PROXY_IMAGE, TEST_LABEL, HarnessHandle
from tests.proxy.conftest import ADDRESSES, start_httpd, with_proxy

PoolOf = Callable[[NodeSpec], NodePool]


def route(node_id: str, *backends: tuple[str, int, int], mode: str = "http") -> Route:
    address = ADDRESSES[node_id]
    return Route(
        "web-18090",
        f"{address}:18090",
        mode=mode,  # type: ignore[arg-type]
        backends=tuple(
            Backend(name, f"{address}:{port}", weight) for name, port, weight in backends
        ),
    )


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bytes(response.read())


def test_requests_see_no_failure_across_reloads_that_add_remove_and_reweight(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    for port in (20001, 20002, 20003):
        start_httpd(proxied, "node-a", port)
    proxy = pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a")
    steps = [
        route("node-a", ("s1", 20001, 100)),
        route("node-a", ("s1", 20001, 100), ("s2", 20002, 100)),
        route("node-a", ("s1", 20001, 10), ("s2", 20002, 100), ("s3", 20003, 100)),
        route("node-a", ("s1", 20001, 0), ("s2", 20002, 100), ("s3", 20003, 50)),
        route("node-a", ("s2", 20002, 100), ("s3", 20003, 100)),
        route("node-a", ("s3", 20003, 100)),
    ]
    proxy.apply([steps[0]])
    failures: list[str] = []
    seen: set[bytes] = set()
    answered = 0
    reloads_done = threading.Event()

    def request_loop() -> None:  # at least 1,000 requests, and until every step is applied
        nonlocal answered
        while answered < 1000 or not reloads_done.is_set():
            try:
                seen.add(get("http://127.0.0.2:18090/").strip())
            except OSError as error:
                failures.append(repr(error))
            answered += 1
            if answered > 20000:
                break

    loop = threading.Thread(target=request_loop)
    loop.start()
    for step in steps[1:]:
        proxy.apply([step])
        threading.Event().wait(0.2)
    reloads_done.set()
    loop.join(timeout=120)
    assert answered >= 1000
    assert failures == []
    assert {b"20001", b"20002", b"20003"} <= seen
    assert proxy.observe().routes == (steps[-1],)


def test_a_draining_server_gets_no_new_connection_and_its_open_one_finishes(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    start_httpd(proxied, "node-a", 20001)
    start_httpd(proxied, "node-a", 20002)
    proxy = pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a")
    # the new server is in the route at weight 0 first: a drain is a weight change, which the
    # proxy makes live, without a reload (a reload would leave the open connection to an old
    # worker whose counters the stats socket no longer shows)
    proxy.apply([route("node-a", ("old", 20001, 100), ("new", 20002, 0), mode="tcp")])
    held = socket.create_connection(("127.0.0.2", 18090), timeout=5)
    try:
        proxy.apply([route("node-a", ("old", 20001, 0), ("new", 20002, 100), mode="tcp")])
        assert {get("http://127.0.0.2:18090/").strip() for _ in range(10)} == {b"20002"}
        assert proxy.wait_drained("web-18090", "old", timeout_s=0.5) is False
        held.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"20001" in held.recv(4096) + held.recv(4096)
    finally:
        held.close()
    assert proxy.wait_drained("web-18090", "old", timeout_s=10) is True


@pytest.mark.parametrize("harm", ["killed", "removed", "hand-edited"])
def test_observe_tells_a_lost_or_edited_proxy_and_apply_heals_it(
    proxied: HarnessHandle, pool_of: PoolOf, harm: str
) -> None:
    start_httpd(proxied, "node-a", 20001)
    proxy = pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a")
    wanted = [route("node-a", ("s1", 20001, 100))]
    proxy.apply(wanted)
    container = proxied.docker("node-a").containers.get(PROXY_CONTAINER)
    if harm == "killed":
        container.kill()
    elif harm == "removed":
        container.remove(force=True)
    else:
        container.exec_run(["bash", "-c", f"echo '# mine' >> {CONFIG_PATH}"])
    state = proxy.observe()
    assert state.error is not None
    assert state.running is (harm == "hand-edited")
    proxy.apply(wanted)
    healed = proxy.observe()
    assert healed.running and healed.error is None and healed.routes == tuple(wanted)
    assert get("http://127.0.0.2:18090/").strip() == b"20001"


def test_the_proxy_is_not_a_deployment_instance(proxied: HarnessHandle, pool_of: PoolOf) -> None:
    pool = pool_of(with_proxy(proxied.node("node-a")))
    pool.proxy("node-a").apply([])
    assert pool.observe().instances == ()
    labels = proxied.docker("node-a").containers.get(PROXY_CONTAINER).labels
    assert labels["io.syncd.managed"] == "true" and labels["io.syncd.role"] == "proxy"


def test_a_missing_image_is_a_typed_error_naming_node_and_image(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    node = with_proxy(proxied.node("node-a"), image="syncd-test/no-such-haproxy:1")
    with pytest.raises(ProxyImageMissing) as raised:
        pool_of(node).proxy("node-a").apply([])
    assert raised.value.node_id == "node-a" and raised.value.image == "syncd-test/no-such-haproxy:1"
    assert "node-a" in str(raised.value)


def test_a_port_held_by_something_else_is_a_typed_error_and_nothing_running_moves(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    start_httpd(proxied, "node-a", 20001)
    squatter = start_httpd(proxied, "node-a", 18091, page="squatter")
    proxy = pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a")
    serving = route("node-a", ("s1", 20001, 100))
    proxy.apply([serving])
    taken = Route("other-18091", "127.0.0.2:18091", backends=(Backend("s1", "127.0.0.2:20001"),))
    with pytest.raises(ProxyPortTaken) as raised:
        proxy.apply([serving, taken])
    assert (raised.value.node_id, raised.value.bind) == ("node-a", "127.0.0.2:18091")
    assert proxy.observe().routes == (serving,)
    assert get("http://127.0.0.2:18090/").strip() == b"20001"
    assert get("http://127.0.0.2:18091/").strip() == b"squatter"
    assert proxied.docker("node-a").containers.get(squatter).labels[TEST_LABEL] == "1"


def test_a_control_port_held_by_something_else_is_named_when_the_proxy_cannot_start(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    start_httpd(proxied, "node-a", CONTROL_PORT, page="squatter")
    with pytest.raises(ProxyPortTaken) as raised:
        pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a").apply([])
    assert raised.value.bind == f"127.0.0.2:{CONTROL_PORT}"
    assert get(f"http://127.0.0.2:{CONTROL_PORT}/").strip() == b"squatter"
    leftovers = proxied.docker("node-a").containers.list(
        all=True, filters={"label": "io.syncd.role"}
    )
    assert leftovers == []


@pytest.mark.parametrize("transport", ["ssh", "tls"])
def test_the_same_apply_over_ssh_and_tcp_tls(
    proxied: HarnessHandle, pool_of: PoolOf, transport: str
) -> None:
    node = proxied.ssh_node if transport == "ssh" else proxied.tls_node
    start_httpd(proxied, node.id, 20001)
    start_httpd(proxied, node.id, 20002)
    proxy = pool_of(with_proxy(node)).proxy(node.id)
    address = ADDRESSES[node.id]
    proxy.apply([route(node.id, ("s1", 20001, 100))])
    proxy.apply([route(node.id, ("s1", 20001, 0), ("s2", 20002, 100))])
    assert get(f"http://{address}:18090/").strip() == b"20002"
    state = proxy.observe()
    assert state.running and state.error is None
    assert state.stats[("web-18090", "s2")].requests_total >= 1
    assert proxy.wait_drained("web-18090", "s1", timeout_s=5) is True


def test_a_proxy_image_that_is_missing_leaves_the_running_proxy_serving(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    start_httpd(proxied, "node-a", 20001)
    wanted = [route("node-a", ("s1", 20001, 100))]
    pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a").apply(wanted)
    running = proxied.docker("node-a").containers.get(PROXY_CONTAINER).id
    # the node's YAML now names an image the node does not have (a typo, or not pulled yet)
    moved = pool_of(with_proxy(proxied.node("node-a"), image="syncd-test/no-such-haproxy:2"))
    proxy = moved.proxy("node-a")
    assert "syncd-test/no-such-haproxy:2" in (proxy.observe().error or "")
    with pytest.raises(ProxyImageMissing) as raised:
        proxy.apply(wanted)
    assert raised.value.node_id == "node-a"
    assert proxied.docker("node-a").containers.get(PROXY_CONTAINER).id == running
    assert get("http://127.0.0.2:18090/").strip() == b"20001"


def test_a_new_proxy_image_that_is_present_replaces_the_proxy(
    proxied: HarnessHandle, pool_of: PoolOf
) -> None:
    start_httpd(proxied, "node-a", 20001)
    wanted = [route("node-a", ("s1", 20001, 100))]
    pool_of(with_proxy(proxied.node("node-a"))).proxy("node-a").apply(wanted)
    proxied.docker("node-a").images.get(PROXY_IMAGE).tag("syncd-test/haproxy", "next")
    proxy = pool_of(with_proxy(proxied.node("node-a"), image="syncd-test/haproxy:next")).proxy(
        "node-a"
    )
    assert proxy.observe().error is not None  # so the next pass's route phase swaps it
    proxy.apply(wanted)
    state = proxy.observe()
    assert state.running and state.error is None and state.routes == tuple(wanted)
    container = proxied.docker("node-a").containers.get(PROXY_CONTAINER)
    assert container.attrs["Config"]["Image"] == "syncd-test/haproxy:next"
    assert get("http://127.0.0.2:18090/").strip() == b"20001"
