"""Images built from a repository definition, once per node, and a build that fails."""

from __future__ import annotations

from dataclasses import replace

from tests.apply.applykit import (
    FAST_OPTIONS,
    SERVICE_SCRIPT,
    apply_repo,
    deployment,
    list_deployment,
    service_definition,
)


def built_definition(definition_id: str) -> dict:  # type: ignore[type-arg]
    definition = service_definition(definition_id)
    del definition["image"]
    definition["repository"] = {"url": "./services/app", "internalPorts": [8080]}
    # no healthCheck in the definition: the image's own HEALTHCHECK gates availability, and it
    # reads the file the build copied in: proof the built image runs
    del definition["healthCheck"]
    definition["command"] = [
        "sh",
        "-c",
        SERVICE_SCRIPT.replace("touch /tmp/ready", "cp /hello.txt /tmp/ready"),
    ]
    return definition


def write_context(repo, copy_source: str) -> None:  # type: ignore[no-untyped-def]
    context = repo.root / "services" / "app"
    context.mkdir(parents=True, exist_ok=True)
    (context / "hello.txt").write_text("hello from the repository\n")
    (context / "Dockerfile").write_text(
        f"FROM syncd-test/busybox:latest\nCOPY {copy_source} /hello.txt\n"
        "HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD cat /tmp/ready\n"
    )


def test_a_repository_definition_is_built_on_each_node_and_runs(engines, pool, repo) -> None:
    repo.write(
        [deployment("depl_built", 3, definition_id="def_built")],
        [built_definition("def_built")],
    )
    write_context(repo, "hello.txt")
    # settle 0: were the image's health check ignored, apply would return before it passed
    the_plan, report = apply_repo(repo, pool, options=replace(FAST_OPTIONS, settle_s=0.0))
    assert report.ok, report.results
    image = the_plan.for_deployment("depl_built").desired.spec.image
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    seen = list_deployment(clients, "depl_built")
    assert len(seen) == 3 and all(s.healthy for s in seen)
    for node_id in {s.node_id for s in seen}:
        container = clients[node_id].containers.get(
            next(s.container_id for s in seen if s.node_id == node_id)
        )
        assert container.attrs["Config"]["Image"] == image
        assert container.exec_run(["cat", "/hello.txt"]).output == b"hello from the repository\n"


def test_a_failing_copy_is_reported_in_the_engines_words(engines, pool, repo) -> None:
    repo.write(
        [deployment("depl_broken", 2, definition_id="def_broken")],
        [built_definition("def_broken")],
    )
    write_context(repo, "missing.txt")
    _, report = apply_repo(repo, pool)
    result = report.result("depl_broken")
    assert result.outcome == "failed" and not result.retryable
    assert result.reason.startswith("build failed: COPY failed: "), result.reason
    assert "missing.txt" in result.reason, result.reason
    assert result.started == 0
    assert list_deployment({n.id: engines.docker(n.id) for n in engines.nodes}, "depl_broken") == []
