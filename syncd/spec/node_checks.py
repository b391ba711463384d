"""The meaning of one node or Swarm document that its schema cannot say: its URL and credentials,
its GPUs, its ``proxy:`` block. Called from ``syncd.spec.repository``, like the other per-document
checks in ``syncd.spec.validation``."""

from __future__ import annotations

from syncd.errors import SpecProblem
from syncd.spec.endpoints import InvalidEndpoint, parse_endpoint
from syncd.spec.loading import Document
from syncd.spec.models import NodeSpec, SwarmClusterSpec
from syncd.spec.validation import id_problems


def check_node(node: NodeSpec, document: Document) -> tuple[list[SpecProblem], list[SpecProblem]]:
    """Meaning of one node: its URL and credentials (parsed here into ``node.endpoint``, the one
    parse every later stage reads), GPUs. Returns (problems, notes)."""
    problems = id_problems(document, node.id, "node")
    notes: list[SpecProblem] = []
    try:
        endpoint = node.endpoint
    except InvalidEndpoint as invalid:
        for problem in invalid.problems:
            problems.append(document.problem((problem.field,), problem.message))
    else:
        if endpoint.scheme == "tcp" and endpoint.tls is None:
            notes.append(
                document.problem(
                    ("url",),
                    "tcp without tls: anyone who can reach this port controls the engine; "
                    "add tls {caCert, clientCert, clientKey} unless the network is trusted",
                )
            )
    seen: dict[str, int] = {}
    for index, gpu in enumerate(node.gpus):
        if gpu.id in seen:
            problems.append(
                document.problem(
                    ("gpus", index, "id"),
                    f"GPU {gpu.id!r} is listed twice (also gpus[{seen[gpu.id]}])",
                )
            )
        seen.setdefault(gpu.id, index)
    problems.extend(_proxy_problems(node, document))
    return problems, notes


def check_swarm(swarm: SwarmClusterSpec, document: Document) -> list[SpecProblem]:
    """Meaning of one Swarm cluster: its id and every manager url (parsed here, as a node's)."""
    problems = id_problems(document, swarm.id, "node")
    for index, url in enumerate(swarm.managers):
        try:
            parse_endpoint(url, tls=swarm.tls, ssh=swarm.ssh)
        except InvalidEndpoint as invalid:
            for problem in invalid.problems:
                path = ("managers", index) if problem.field == "url" else (problem.field,)
                problems.append(document.problem(path, problem.message))
    return problems


def _proxy_problems(node: NodeSpec, document: Document) -> list[SpecProblem]:
    """The meaning of ``proxy:`` the schema's patterns cannot say: octets and ports in range."""
    problems = []
    settings = node.proxy
    if any(int(octet) > 255 for octet in settings.address.split(".")):
        problems.append(
            document.problem(
                ("proxy", "address"),
                f"{settings.address!r} is not an IPv4 address: each of its four numbers is 0-255",
            )
        )
    low, high = settings.instance_ports
    if not 1 <= low <= high <= 65535:
        problems.append(
            document.problem(
                ("proxy", "instancePorts"),
                f"{low}-{high} is not a port range: write LOW-HIGH with 1 <= LOW <= HIGH <= 65535, "
                'e.g. "20000-20999"',
            )
        )
    return problems
