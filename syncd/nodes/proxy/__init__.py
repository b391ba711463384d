"""The node proxy: HAProxy run by syncd on every node that hosts routed deployments."""

from syncd.nodes.proxy.base import NodeProxy
from syncd.nodes.proxy.model import Backend, BackendStats, ProxyState, Route, proxy_safe_name

__all__ = ["Backend", "BackendStats", "NodeProxy", "ProxyState", "Route", "proxy_safe_name"]
