"""How long `load_repository` (what `syncd validate` and every pass run) takes on a big repo.

Generates 1,000 deployment files (each with resources, strategy, autoscaling, target regions and
envars like the reference's examples), 100 definitions and 10 nodes in a temp dir, pins the
process to one CPU, and prints the median of 5 runs of the whole load (read, parse, schema,
convert, cross-file checks), plus the parse and schema phases alone.

    .venv/bin/python bench/bench_validate.py [--deployments 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from syncd.spec.loading import load_yaml
from syncd.spec.repository import load_repository
from syncd.spec.schemas import check

DEPLOYMENT = """\
# yaml-language-server: $schema=../schemas/deployment.schema.json
id: "depl_{i:05d}"
definitionId: "def_{d:03d}"
name: "service-{i}"
description: "Generated deployment number {i}"
replicas: 3
strategy:
  type: "RollingUpdate"
  maxUnavailable: 1
  maxSurge: "25%"
resources:
  cpu: "500m"
  memory: "256Mi"
autoScaling:
  minReplicas: 2
  maxReplicas: 10
  cpuThreshold: 80
targetRegions:
  - cluster: "cluster-{c}"
    zone: "zone-{c}-a"
envars:
  ENVIRONMENT: "production"
  LOG_LEVEL: "info"
  DATABASE_URL: "postgres://db-{i}:5432/app"
  API_KEY: "{{{{secret:api-key-{i}}}}}"
"""

DEFINITION = """\
id: "def_{d:03d}"
image:
  name: "registry.example.com/team/app-{d}:1.{d}.0"
  internalPorts: [8080]
ports:
  - internal: 8080
    host: {port}
envars:
  - key: "PORT"
    value: "8080"
healthCheck:
  http: {{path: "/healthz", port: 8080}}
  interval: "10s"
  timeout: "2s"
  retries: 3
labels:
  com.example.team: "team-{d}"
"""

NODE = """\
id: "node-{n:02d}"
url: "ssh://deploy@node-{n:02d}.example.internal:22"
cluster: "cluster-{c}"
zone: "zone-{c}-a"
capacity: {{cpu: "16", memory: "64Gi"}}
ssh: {{identityFile: "/etc/syncd/id", knownHosts: "/etc/syncd/known_hosts"}}
"""


def generate(root: Path, deployments: int, definitions: int = 100, nodes: int = 10) -> None:
    for folder in ("deployments", "definitions", "nodes"):
        (root / folder).mkdir(parents=True)
    for i in range(deployments):
        text = DEPLOYMENT.format(i=i, d=i % definitions, c=i % nodes)
        (root / "deployments" / f"depl_{i:05d}.yaml").write_text(text)
    for d in range(definitions):
        text = DEFINITION.format(d=d, port=20000 + d)
        (root / "definitions" / f"def_{d:03d}.yaml").write_text(text)
    for n in range(nodes):
        (root / "nodes" / f"node-{n:02d}.yaml").write_text(NODE.format(n=n, c=n))


def median_seconds(action, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the latter is what one core
    spends, even when other processes share the machine)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # one core, as the issue asks

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        generate(root, args.deployments)
        files = sorted((root / "deployments").glob("*.yaml"))
        raw = [(path.read_bytes(), path.name) for path in files]
        spec = load_repository(root)  # warm-up: imports, schema compilation
        assert len(spec.deployments) == args.deployments

        def parse_only() -> None:
            for data, name in raw:
                load_yaml(data, name)

        documents = [doc for data, name in raw for doc in load_yaml(data, name)]

        def schema_only() -> None:
            for document in documents:
                check(document, "deployment")

        whole = median_seconds(lambda: load_repository(root), args.runs)
        parse = median_seconds(parse_only, args.runs)
        schema = median_seconds(schema_only, args.runs)

    count = args.deployments
    load = os.getloadavg()[0]
    print(f"repository: {count} deployments, 100 definitions, 10 nodes (one file each)")
    print(f"pinned to CPU {cpu}; median of {args.runs} runs; load average {load:.1f}")
    print(f"{'':44}{'wall ms':>10}{'cpu ms':>10}")
    for label, (wall, used) in (
        ("load_repository (everything)", whole),
        (f"  parse only ({count} deployment files)", parse),
        (f"  schema only ({count} deployments)", schema),
    ):
        print(f"{label:44}{wall * 1000:10.1f}{used * 1000:10.1f}")
    print(f"per deployment file (cpu): {whole[1] / count * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
