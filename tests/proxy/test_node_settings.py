"""A node's ``proxy:`` block: defaults, parsing, and errors that say what to write instead."""

from __future__ import annotations

import pytest

from syncd.errors import SpecError
from syncd.spec.models import DEFAULT_PROXY_IMAGE, ProxySettings
from syncd.spec.repository import parse_node


def node(**proxy: object) -> dict[str, object]:
    data: dict[str, object] = {"id": "web-1", "url": "unix:///var/run/docker.sock"}
    if proxy:
        data["proxy"] = proxy
    return data


def test_a_node_without_proxy_block_gets_the_upstream_image_on_127_0_0_1() -> None:
    settings = parse_node(node()).proxy
    assert settings == ProxySettings()
    assert settings.image == DEFAULT_PROXY_IMAGE == "haproxy:2.6"
    assert settings.address == "127.0.0.1"
    assert settings.instance_ports == (20000, 20999)


def test_every_field_is_read() -> None:
    settings = parse_node(
        node(image="syncd-test/haproxy:latest", address="127.0.0.3", instancePorts="21000-21099")
    ).proxy
    assert settings == ProxySettings("syncd-test/haproxy:latest", "127.0.0.3", (21000, 21099))


@pytest.mark.parametrize(
    ("proxy", "path", "words"),
    [
        ({"imag": "x"}, "$.proxy.imag", "did you mean 'image'?"),
        ({"adress": "127.0.0.2"}, "$.proxy.adress", "did you mean 'address'?"),
        ({"address": "localhost"}, "$.proxy.address", "an IPv4 address"),
        ({"address": "127.0.0.300"}, "$.proxy.address", "each of its four numbers is 0-255"),
        ({"instancePorts": "20000"}, "$.proxy.instancePorts", "LOW-HIGH"),
        ({"instancePorts": "30000-2000"}, "$.proxy.instancePorts", "1 <= LOW <= HIGH <= 65535"),
        ({"instancePorts": "0-10"}, "$.proxy.instancePorts", "1 <= LOW"),
        ({"image": ""}, "$.proxy.image", ""),
    ],
)
def test_bad_proxy_settings_name_the_field_and_the_fix(
    proxy: dict[str, object], path: str, words: str
) -> None:
    with pytest.raises(SpecError) as raised:
        parse_node(node(**proxy))
    [problem] = raised.value.problems
    assert problem.path == path
    assert words in problem.message
