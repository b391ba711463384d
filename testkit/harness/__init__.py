"""The real multi-node test environment (three Docker engines, TLS, sshd); see harness.py.

``python -m testkit.harness up|down|env|status --dir DIR`` drives it by hand.
"""

from testkit.harness.base_image import BASE_IMAGE
from testkit.harness.credentials import write_tls
from testkit.harness.handle import TEST_LABEL, HarnessHandle, node_spec
from testkit.harness.harness import NODE_IDS, Harness, HarnessError
from testkit.harness.processes import free_port, pids_mentioning
from testkit.harness.proxy_image import PROXY_IMAGE

__all__ = [
    "BASE_IMAGE",
    "NODE_IDS",
    "PROXY_IMAGE",
    "TEST_LABEL",
    "Harness",
    "HarnessError",
    "HarnessHandle",
    "free_port",
    "node_spec",
    "pids_mentioning",
    "write_tls",
]
