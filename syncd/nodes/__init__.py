"""Nodes behind one driver protocol (``base.NodeDriver``): the Docker driver over three
transports (unix, tcp+TLS, ssh; ``transports/``), observing all nodes at once, images, stats."""

import sys as _sys

# docker-py imports paramiko (and with it cryptography: 20 MB of a daemon's 68) when docker is
# first imported, for an ssh adapter that only ssh nodes use. Hide paramiko for that one import:
# docker.transport then skips its ssh adapter, and syncd.nodes.transports.ssh, the one user,
# imports docker.transport.sshconn (and paramiko, for real) when a node is reached over ssh.
# Every import of docker in syncd goes through this package, so this runs first. The price:
# docker-py's own ``ssh://`` base URL is unavailable in this process; syncd never uses it (it
# mounts its own adapter on a placeholder URL, transports/ssh.py).
if "docker" not in _sys.modules and "paramiko" not in _sys.modules:
    _sys.modules["paramiko"] = None  # type: ignore[assignment]  # an import of it fails
    try:
        import docker  # noqa: F401
    finally:
        del _sys.modules["paramiko"]
