"""What an idle daemon keeps in memory: libraries load with the feature that needs them (paramiko
and cryptography with the first ssh node, cheroot and werkzeug with the listener, jinja2 with
the page's first request), and each still works once it loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter after running ``code``."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_a_daemon_without_ssh_nodes_or_listener_loads_no_ssh_http_or_template_library() -> None:
    loaded = _modules_after(
        "import syncd.daemon.loop, syncd.nodes.pool, syncd.nodes.engine_errors\n"
        "import syncd.cli.daemon\n"
    )
    assert "docker" in loaded  # the node drivers are there: what a daemon does need
    assert sorted(loaded & {"paramiko", "cryptography", "cheroot", "werkzeug", "jinja2"}) == []


def test_the_ssh_transport_loads_paramiko_and_docker_pys_adapter_when_asked() -> None:
    loaded = _modules_after(
        "import syncd.nodes.pool\n"
        "from syncd.nodes.transports.ssh import VerifiedSSHAdapter\n"
        "from docker.transport.sshconn import SSHHTTPAdapter\n"
        "assert issubclass(VerifiedSSHAdapter, SSHHTTPAdapter)\n"
    )
    assert "paramiko" in loaded


def test_a_paramiko_error_is_still_an_unreachable_node_once_paramiko_is_loaded() -> None:
    paramiko = pytest.importorskip("paramiko")
    from syncd.errors import NodeUnreachable
    from syncd.nodes.engine_errors import translated

    with pytest.raises(NodeUnreachable), translated("node-b", "ssh://b", "listing containers"):
        raise paramiko.SSHException("channel closed")


def test_the_listener_and_the_page_load_their_libraries_when_started() -> None:
    loaded = _modules_after(
        "from syncd.daemon.http import HttpServer\n"
        "import syncd.daemon.web.app as app\n"
        "import sys\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 before the first page'\n"
        "environment = app._environment()\n"
        "assert environment.get_template('base.html') is not None\n"
    )
    assert {"cheroot", "werkzeug", "jinja2"} <= loaded
