"""A node's url parsed once into a NodeEndpoint: each scheme's fields, every problem named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncd.spec.endpoints import (
    InvalidEndpoint,
    NodeEndpoint,
    SshFiles,
    TlsFiles,
    parse_endpoint,
)
from syncd.spec.models import NodeSpec
from syncd.spec.repository import load_repository

from .conftest import problems_of

TLS = TlsFiles(ca_cert="ca.pem", client_cert="cert.pem", client_key="key.pem")
SSH = SshFiles(identity_file="~/.ssh/id_ed25519", known_hosts="/etc/syncd/known_hosts")


@pytest.mark.parametrize(
    ("url", "credentials", "expected"),
    [
        (
            "unix:///var/run/docker.sock",
            {},
            NodeEndpoint(scheme="unix", socket_path="/var/run/docker.sock"),
        ),
        ("tcp://10.0.0.5:2375", {}, NodeEndpoint(scheme="tcp", host="10.0.0.5", port=2375)),
        (
            "tcp://engine.internal:2376",
            {"tls": TLS},
            NodeEndpoint(scheme="tcp", host="engine.internal", port=2376, tls=TLS),
        ),
        (
            "tcp://[fd00::5]:2376",
            {"tls": TLS},
            NodeEndpoint(scheme="tcp", host="fd00::5", port=2376, tls=TLS),
        ),
        (
            "ssh://deploy@web-1:2222",
            {"ssh": SSH},
            NodeEndpoint(scheme="ssh", host="web-1", port=2222, user="deploy", ssh=SSH),
        ),
        # 22 when omitted, like ssh(1)
        (
            "ssh://deploy@web-1",
            {},
            NodeEndpoint(scheme="ssh", host="web-1", port=22, user="deploy"),
        ),
    ],
)
def test_each_scheme_has_its_own_fields(url, credentials, expected):
    assert parse_endpoint(url, **credentials) == expected


@pytest.mark.parametrize(
    "endpoint_url",
    ["unix:///var/run/docker.sock", "tcp://10.0.0.5:2376", "tcp://[fd00::5]:2376", "ssh://u@h:22"],
)
def test_the_url_of_an_endpoint_parses_back_to_it(endpoint_url):
    endpoint = parse_endpoint(endpoint_url)
    assert endpoint.url == endpoint_url
    assert parse_endpoint(endpoint.url) == endpoint


@pytest.mark.parametrize(
    ("url", "credentials", "fields", "words"),
    [
        ("unix://relative.sock", {}, ["url"], "absolute socket path"),
        ("tcp://10.0.0.5", {}, ["url"], "write tcp://HOST:PORT"),  # docker-py needs the port
        ("tcp://h:99999", {}, ["url"], "port must be a number from 1 to 65535"),
        ("tcp://h:0", {}, ["url"], "port 0 is not a port"),
        ("ssh://host:22", {}, ["url"], "write ssh://USER@HOST:PORT"),
        ("http://h:80", {}, ["url"], "unsupported scheme"),
        ("unix:///s", {"tls": TLS, "ssh": SSH}, ["tls", "ssh"], "applies to"),
    ],
)
def test_every_problem_names_its_field(url, credentials, fields, words):
    with pytest.raises(InvalidEndpoint) as caught:
        parse_endpoint(url, **credentials)
    assert [problem.field for problem in caught.value.problems] == fields
    assert words in str(caught.value)


def test_a_node_spec_parses_its_endpoint_once_and_again_after_a_change():
    node = NodeSpec(id="n", url="ssh://deploy@web-1:22", ssh=SSH)
    assert node.endpoint is node.endpoint  # cached: one parse per spec
    moved = replace(node, url="ssh://deploy@web-2:22")
    assert (moved.endpoint.host, node.endpoint.host) == ("web-2", "web-1")


def test_loading_a_repository_parses_every_node_endpoint(repo):
    spec = load_repository(
        repo({"nodes/b.yaml": "id: b\nurl: ssh://deploy@10.0.0.7:2200\nssh: {identityFile: k}\n"})
    )
    node = next(n for n in spec.nodes if n.id == "b")
    assert node.endpoint == NodeEndpoint(
        scheme="ssh", host="10.0.0.7", port=2200, user="deploy", ssh=SshFiles(identity_file="k")
    )


def test_a_tcp_url_without_a_port_is_located_at_load(repo):
    (problem,) = problems_of(repo({"nodes/b.yaml": "id: b\nurl: tcp://10.1.2.3\n"}))
    assert (problem.file, problem.line, problem.path) == ("nodes/b.yaml", 2, "$.url")
    assert "write tcp://HOST:PORT" in problem.message
