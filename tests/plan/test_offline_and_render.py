"""plan_offline (field-level diffs between two commits) and the three renderers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema

from syncd.plan import plan, plan_offline, render
from syncd.plan.model import ActionKind
from syncd.spec.models import RepoSpec
from syncd.spec.rendering import render_desired
from tests.plan.builders import desired_state, observed_state, repo_spec

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json").read_text()
)
SECRET_VALUE = "hunter2-very-secret"


class Digests:
    def digest(self, name: str) -> str | None:
        return "digest-of-" + name


BASE = {
    "nodes": [{"id": "node-a", "cpu": "4", "memory": "4Gi"}],
    "deployments": [
        {
            "id": "api",
            "image": "api:1",
            "replicas": 2,
            "cpu": "500m",
            "env": {"LOG": "info", "PW": "{{secret:db-pw}}"},
        },
        {"id": "gone", "replicas": 1},
        {"id": "same", "replicas": 1},
        {"id": "scaled", "replicas": 1},
    ],
}
HEAD = {
    "nodes": BASE["nodes"],
    "deployments": [
        {
            "id": "api",
            "image": "api:2",
            "replicas": 2,
            "cpu": "1",
            "memory": "256Mi",
            "env": {"LOG": "debug", "PW": "{{secret:db-pw2}}"},
            "ports": ["8080:80"],
        },
        {"id": "new", "replicas": 3, "command": ["/bin/httpd", "-f"]},
        {"id": "same", "replicas": 1},
        {"id": "scaled", "replicas": 4},
    ],
}


def _offline():
    return plan_offline(desired_state(BASE), desired_state(HEAD))


def test_offline_plan_actions_and_field_changes():
    result = _offline()
    assert result.offline and result.has_changes
    by_id = {d.deployment_id: d for d in result.deployments}
    assert by_id["gone"].actions == (ActionKind.PRUNE,)
    assert by_id["new"].actions == (ActionKind.CREATE,)
    assert by_id["same"].actions == (ActionKind.NOOP,) and not by_id["same"].changes
    assert by_id["scaled"].actions == (ActionKind.SCALE_UP,)
    assert [(c.path, c.old, c.new) for c in by_id["scaled"].changes] == [("replicas", "1", "4")]
    api = {c.path: (c.old, c.new) for c in by_id["api"].changes}
    assert by_id["api"].actions == (ActionKind.ROLLING_UPDATE,)
    assert api == {
        "image": ("api:1", "api:2"),
        "env.LOG": ("info", "debug"),
        "env.PW": ("(secret db-pw)", "(secret db-pw2)"),
        "resources.cpu": ("500m", "1"),
        "resources.memory": (None, "256Mi"),
        "ports": (None, "127.0.0.1:8080:80/tcp"),
    }
    assert ("command", None, "/bin/httpd -f") in [
        (c.path, c.old, c.new) for c in by_id["new"].changes
    ]


def test_offline_settings_only_change_is_not_a_rollout():
    base = desired_state(BASE)
    head_deployments = []
    for wanted in base.deployments:
        deployment = dataclasses.replace(wanted.deployment, name="renamed", description="new words")
        head_deployments.append(dataclasses.replace(wanted, deployment=deployment))
    head = dataclasses.replace(base, deployments=tuple(head_deployments))
    result = plan_offline(base, head)
    assert not result.has_changes
    assert all(d.actions == (ActionKind.NOOP,) for d in result.deployments)
    assert {c.path for d in result.deployments for c in d.changes} == {"name", "description"}


def test_offline_from_nothing_creates_everything():
    result = plan_offline(None, desired_state(HEAD))
    assert {d.actions for d in result.deployments} == {(ActionKind.CREATE,)}
    assert "an empty repository" in render.text(result)


def test_json_validates_against_the_published_schema():
    jsonschema.validate(json.loads(render.json(_offline())), SCHEMA)
    case = {
        "nodes": [{"id": "a", "memory": "128Mi"}, {"id": "b", "reachable": False}],
        "deployments": [{"id": "web", "replicas": 2, "memory": "64Mi", "ports": ["8080:80"]}],
        "observed": [
            {"id": "w0", "node": "a", "deployment": "web", "replica": 0, "version": "old"},
            {"id": "x0", "node": "a", "deployment": "x", "replica": 0, "version": "old"},
            {"id": "x1", "node": "a", "deployment": "x", "replica": 1, "version": "old"},
            {"id": "y0", "node": "a", "deployment": "y", "replica": 1, "version": "old"},
        ],
    }
    desired = desired_state(case)
    live = plan(desired, observed_state(case, desired), allow_mass_prune=True)
    document = json.loads(render.json(live))
    jsonschema.validate(document, SCHEMA)
    # both replicas: the old w0 keeps 8080 bound on node a while its replacement would start
    # (a RollingUpdate surge), so the replacement cannot go there either
    assert document["counts"]["unplaceable"] == 2
    web = next(d for d in document["deployments"] if d["id"] == "web")
    assert web["unplaceable"][0]["reasons"] == [
        {"node": "a", "reason": "host port 8080/tcp already used", "kind": "host-port"},
        {"node": "b", "reason": "unreachable", "kind": "unreachable"},
    ]
    assert web["unplaceable"][0]["message"] == (
        "2 replicas cannot be placed: 0/2 nodes fit: "
        "1 unreachable (b), 1 host port 8080/tcp already used (a)"
    )


def test_text_shows_signs_diffs_reasons_and_counts():
    output = render.text(_offline(), color=False)
    lines = output.splitlines()
    assert "+ new: create 3 replicas" in lines
    assert "- gone: prune: removed from Git, its 1 replica go" in lines
    assert "    ~ image: api:1 -> api:2" in lines
    assert "    ~ env.PW: (secret db-pw) -> (secret db-pw2)" in lines
    assert "    + resources.memory: 256Mi" in lines
    assert (
        lines[-1]
        == "Plan: 1 to create, 1 to update, 0 to repair, 1 to scale, 1 to prune, 1 unchanged."
    )
    assert "\x1b[" not in output
    assert "\x1b[32m+ new" in render.text(_offline(), color=True)


def test_no_changes_reads_so():
    same = desired_state(BASE)
    assert (
        render.text(plan_offline(same, same)).splitlines()[-1]
        == "No changes: 4 deployments in sync."
    )


def test_no_secret_value_reaches_any_output(tmp_path):
    """Secret values are never in the desired state; every renderer is grepped anyway."""
    (tmp_path / "db-pw").write_text(SECRET_VALUE)
    spec: RepoSpec = repo_spec(BASE)
    from syncd.spec.secrets import SecretProvider

    tmp_path.chmod(0o700)
    (tmp_path / "db-pw").chmod(0o600)
    provider = SecretProvider(secrets_dir=tmp_path)
    desired = render_desired(spec, environ={}, secrets=provider)
    assert provider.get("db-pw") == SECRET_VALUE  # the provider does know it
    head = render_desired(repo_spec(HEAD), environ={}, secrets=provider)
    outputs = [
        render.text(plan_offline(desired, head)),
        render.json(plan_offline(desired, head)),
        *render.markdown(plan_offline(desired, head)),
        render.text(plan(desired, observed_state({"nodes": BASE["nodes"]}, desired))),
        repr(desired),
    ]
    for output in outputs:
        assert SECRET_VALUE not in output
    assert "(secret db-pw)" in outputs[0]


def _big_offline(count: int):
    deployments = [
        {
            "id": f"svc-{n:04d}",
            "replicas": 1 + n % 3,
            "env": {f"KEY_{k}": "v" * 40 for k in range(8)},
        }
        for n in range(count)
    ]
    return plan_offline(None, desired_state({"deployments": deployments}))


def test_markdown_small_plan_is_one_part_with_table_and_details():
    (part,) = render.markdown(_offline())
    assert "| Deployment | Action | Replicas | Summary |" in part
    assert part.count("<details>") == part.count("</details>") == 4
    assert "<code>api</code>" in part


def test_markdown_big_plan_splits_between_details_blocks():
    parts = render.markdown(_big_offline(400), max_chars=20000)
    assert len(parts) > 3
    for number, part in enumerate(parts, start=1):
        assert len(part) < 20000
        assert part.count("<details>") == part.count("</details>")
        assert f"part {number} of {len(parts)}" in part
    joined = "".join(parts)
    assert joined.count("<details><summary>") == 400
    assert "(continued)" not in joined  # no block was cut: each fits in a part
    table_rows = [line for line in joined.splitlines() if line.startswith("| `svc-")]
    assert len(table_rows) == 400


def test_markdown_block_bigger_than_a_part_is_cut_into_complete_blocks():
    deployments = [{"id": "huge", "env": {f"KEY_{k:04d}": "x" * 60 for k in range(600)}}]
    parts = render.markdown(
        plan_offline(None, desired_state({"deployments": deployments})), max_chars=10000
    )
    assert len(parts) > 3
    for part in parts:
        assert len(part) < 10000
        assert part.count("<details>") == part.count("</details>")
        assert part.count("```") % 2 == 0
    joined = "".join(parts)
    assert "(continued)" in joined
    assert all(f"KEY_{k:04d}" in joined for k in range(600))


def test_markdown_many_warnings_still_split_under_the_limit():
    case = {
        "nodes": [{"id": f"node-{n:04d}", "reachable": False} for n in range(300)],
        "deployments": [{"id": "web"}],
    }
    desired = desired_state(case)
    parts = render.markdown(plan(desired, observed_state(case, desired)), max_chars=5000)
    assert len(parts) > 3 and all(len(part) < 5000 for part in parts)
    assert sum(part.count(":warning:") for part in parts) == 300
