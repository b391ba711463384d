"""The real multi-node test environment (three Docker engines, TLS, sshd); see harness.py."""

from tests.harness.harness import BASE_IMAGE, NODE_IDS, Harness, HarnessError

__all__ = ["BASE_IMAGE", "NODE_IDS", "Harness", "HarnessError"]
