"""Helpers for fault tests: the YAML test service and the daemon as a process.

Both live in ``testkit`` (bench_latency and bench_footprint use them too); imported here so the
fault tests find them in one place.
"""

from __future__ import annotations

from testkit.daemon_process import DaemonProcess as Daemon
from testkit.service_yaml import SERVICE_DEFINITION as SERVICE_DEFINITION
from testkit.service_yaml import service_deployment as service_deployment

__all__ = ["Daemon"]  # the old name of testkit's DaemonProcess, which the fault tests use
