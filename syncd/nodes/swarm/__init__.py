"""Docker Swarm clusters as a backend: syncd hands Swarm one service per deployment and region
and lets it place, restart and roll the tasks (docs/swarm.md)."""

from syncd.nodes.swarm.cluster import SwarmCluster

__all__ = ["SwarmCluster"]
