"""``syncd plan`` end to end: offline between two commits of a real Git repository made in a
temp dir, and live against the harness's real Docker engines."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from syncd.cli.main import main
from syncd.source.owner import checkout_owner
from syncd.state import (
    LABEL_COMMIT,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED,
    LABEL_OWNER,
    LABEL_REPLICA,
    LABEL_SPEC_HASH,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas/plan.schema.json").read_text())
IMAGE = "syncd-test/busybox:latest"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def offline_plan(folder: Path, base: str, head: str, *options: str, capsys) -> tuple[int, str, str]:
    """``syncd plan --repo FOLDER --base BASE --head HEAD OPTIONS``: exit code, stdout, stderr."""
    return run(["plan", "--repo", str(folder), "--base", base, "--head", head, *options], capsys)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def write(root: Path, files: dict[str, str | None]) -> None:
    for relative, text in files.items():
        path = root / relative
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def deployment(id_: str, replicas: int = 1, envars: str = "") -> str:
    return f'id: "{id_}"\ndefinitionId: "def_{id_}"\nreplicas: {replicas}\n{envars}'


def definition(id_: str, image: str = IMAGE) -> str:
    return (
        f'id: "def_{id_}"\nimage:\n  name: "{image}"\n  internalPorts: [8080]\n'
        'command: ["/bin/sleep", "3600"]\nnetwork: "none"\n'
    )


def node(id_: str, url: str, zone: str = "z1") -> str:
    return f'id: "{id_}"\nurl: "{url}"\ncluster: "test"\nzone: "{zone}"\n'


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, object]:
    """A Git repo whose deployments live in ./deploy: three commits, the last one invalid."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    folder = root / "deploy"
    write(
        folder,
        {
            "nodes/a.yaml": node("node-a", "unix:///nonexistent/a.sock"),
            "definitions/web.yaml": definition("web", "web:1"),
            "definitions/old.yaml": definition("old"),
            "deployments/web.yaml": deployment("web", 2),
            "deployments/old.yaml": deployment("old"),
        },
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    first = git(root, "rev-parse", "HEAD")
    write(
        folder,
        {
            "definitions/web.yaml": definition("web", "web:2"),
            "deployments/web.yaml": deployment(
                "web", 3, 'envars:\n  TOKEN: "{{secret:api-token}}"\n  WHERE: "{{env:REGION}}"\n'
            ),
            "deployments/old.yaml": None,
            "definitions/new.yaml": definition("new"),
            "deployments/new.yaml": deployment("new"),
        },
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two")
    second = git(root, "rev-parse", "HEAD")
    write(folder, {"deployments/web.yaml": deployment("web", 3) + "replica: 4\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "three: a typo")
    third = git(root, "rev-parse", "HEAD")
    return {"root": root, "folder": folder, "first": first, "second": second, "third": third}


def test_offline_plan_between_two_commits(repo, capsys):
    folder, first, second = repo["folder"], repo["first"], repo["second"]
    code, out, _ = offline_plan(folder, first, second, "--detailed-exitcode", capsys=capsys)
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"syncd plan: {first[:12]} -> {second[:12]} (offline, no nodes contacted)"
    assert "+ new: create 1 replica" in lines
    assert "- old: prune: removed from Git, its 1 replica go" in lines
    assert "    ~ image: web:1 -> web:2" in lines
    assert "    + env.TOKEN: (secret api-token)" in lines
    assert "    + env.WHERE: {{env:REGION}}" in lines  # offline keeps env references as written
    assert "    ~ replicas: 2 -> 3" in lines

    code, out, _ = offline_plan(folder, second, second, "--detailed-exitcode", capsys=capsys)
    assert code == 0 and "No changes" in out


def test_offline_json_and_markdown_files(repo, capsys, tmp_path):
    folder, first, second = repo["folder"], repo["first"], repo["second"]
    code, out, _ = offline_plan(folder, first, second, "--format", "json", capsys=capsys)
    assert code == 0
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["revision"] == second and document["baseRevision"] == first
    assert document["counts"]["create"] == 1 and document["counts"]["prune"] == 1

    out_dir = tmp_path / "md"
    code, _, err = run(
        [
            "plan",
            "--repo",
            str(folder),
            "--base",
            first,
            "--head",
            second,
            "--format",
            "markdown",
            "--output-dir",
            str(out_dir),
        ],
        capsys,
    )
    assert code == 0 and "wrote 1 part(s)" in err
    (part,) = sorted(out_dir.glob("plan-*.md"))
    assert "<details><summary><code>web</code>" in part.read_text()


def test_invalid_revision_plans_nothing_and_prints_the_problems(repo, capsys):
    folder, second, third = repo["folder"], repo["second"], repo["third"]
    code, out, err = offline_plan(folder, second, third, "--detailed-exitcode", capsys=capsys)
    assert code == 1
    assert out == ""
    assert "deployments/web.yaml:4:1" in err and "replica" in err
    assert f"revision {third} is invalid: nothing was planned" in err


def test_unknown_revision_and_bad_usage(repo, capsys):
    folder = repo["folder"]
    code, _, err = run(
        ["plan", "--repo", str(folder), "--base", "no-such-branch", "--head", "HEAD"], capsys
    )
    assert code == 1 and "unknown revision 'no-such-branch'" in err
    code, _, err = run(["plan", "--repo", str(folder), "--rev", "HEAD", "--base", "HEAD"], capsys)
    assert code == 2 and "pick one" in err
    code, _, err = run(["plan", "--repo", str(folder), "--head", "HEAD"], capsys)
    assert code == 2 and "--head needs --base" in err


# --------------------------------------------------------------------------- live


def _live_repo(tmp_path: Path, harness) -> Path:
    root = tmp_path / "live"
    files = {
        "definitions/web.yaml": definition("web"),
        "deployments/web.yaml": deployment("web", 2),
    }
    for spec in harness.nodes:
        files[f"nodes/{spec.id}.yaml"] = node(spec.id, spec.url, spec.zone or "z1")
    write(root, files)
    return root


def _managed(
    harness,
    node_id: str,
    deployment_id: str,
    replica: int,
    spec_hash: str,
    owner: str | None = None,
) -> str:
    labels = {
        LABEL_MANAGED: "true",
        LABEL_DEPLOYMENT: deployment_id,
        LABEL_REPLICA: str(replica),
        LABEL_SPEC_HASH: spec_hash,
        LABEL_COMMIT: "0" * 40,
    }
    if owner is not None:
        labels[LABEL_OWNER] = owner
    container = harness.docker(node_id).containers.run(
        IMAGE, ["/bin/sleep", "3600"], detach=True, network_mode="none", labels=labels
    )
    return container.id


def test_live_plan_against_the_engines(engines, tmp_path, capsys):
    root = _live_repo(tmp_path, engines)
    node_a, node_b = engines.nodes[0].id, engines.nodes[1].id
    old = _managed(engines, node_a, "web", 0, "1" * 64)  # no owner label: adopted, declared
    # Only this checkout's own containers of undeclared deployments are pruned.
    ours = checkout_owner(root)
    stray = _managed(engines, node_b, "retired", 0, "2" * 64, owner=ours)
    kept = _managed(engines, node_b, "keeper", 0, "3" * 64, owner=ours)  # unknown to Git too

    code, out, err = run(
        ["plan", "--repo", str(root), "--format", "json", "--allow-mass-prune"], capsys
    )
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    web = next(d for d in document["deployments"] if d["id"] == "web")
    assert web["actions"] == ["rolling-update", "scale-up"]  # 1 old replica, 2 wanted
    assert [i["containerId"] for i in web["replace"]] == [old]
    assert len(web["start"]) == 2 and {s["node"] for s in web["start"]} <= {
        n.id for n in engines.nodes
    }
    pruned = {d["id"]: d for d in document["deployments"] if d["actions"] == ["prune"]}
    assert {i["containerId"] for d in pruned.values() for i in d["remove"]} == {stray, kept}

    # Without the flag, pruning 2 of 3 managed instances is refused.
    code, out, err = run(["plan", "--repo", str(root)], capsys)
    assert code == 1 and "refusing to prune 2 of 3" in err and "--allow-mass-prune" in err

    # --node: only node-a is contacted; node-b's instances are unseen, nothing placed there.
    code, out, err = run(
        ["plan", "--repo", str(root), "--node", node_a, "--format", "json"], capsys
    )
    assert code == 0, err
    document = json.loads(out)
    web = next(d for d in document["deployments"] if d["id"] == "web")
    assert {s["node"] for s in web["start"]} == {node_a}
    assert not [d for d in document["deployments"] if d["actions"] == ["prune"]]
    assert any(
        f"node {node_b} is unreachable: not contacted (--node)" in w for w in document["warnings"]
    )


def test_live_plan_at_a_revision_with_every_node_down(repo, capsys):
    """--rev checks the commit out to a temp dir; the repo's only node does not answer, so
    every replica is unplaceable and the plan says why, node by node."""
    folder, first = repo["folder"], repo["first"]
    code, out, err = run(
        ["plan", "--repo", str(folder), "--rev", first, "--detailed-exitcode"], capsys
    )
    assert code == 2, err
    lines = out.splitlines()
    assert lines[0] == f"syncd plan: {first[:12]} against the live nodes"
    assert "+ web: create 2 replicas; 2 replicas cannot be placed" in lines
    assert "    ! 2 replicas cannot be placed: 0/1 nodes fit: 1 unreachable (node-a)" in lines
    assert any(line.startswith("! node node-a is unreachable") for line in lines)


def test_live_plan_with_the_daemon_config_sees_what_apply_did(engines, tmp_path, capsys):
    """A deployment with a secret, applied with the daemon's config: a plan with the same
    config has nothing to do (same secret digests, the config's extra node and onlyNodes); a
    plan without it cannot read the secret, shows a rollout and says why and what to pass."""
    node_a, node_b = engines.nodes[0], engines.nodes[1]
    root = tmp_path / "live"
    write(
        root,
        {
            "nodes/a.yaml": node(node_a.id, node_a.url, node_a.zone or "z1"),
            "definitions/web.yaml": definition("web"),
            "deployments/web.yaml": deployment(
                "web", 2, 'envars:\n  TOKEN: "{{secret:api-token}}"\n'
            ),
        },
    )
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "api-token").write_text("s3cret\n")
    (secrets_dir / "api-token").chmod(0o600)
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"repo: {{url: {root}}}\nsecrets: {{dir: {secrets_dir}}}\nonlyNodes: [{node_a.id}]\n"
        f"nodes:\n  - {{id: {node_b.id}, url: '{node_b.url}', cluster: test, zone: z2}}\n"
    )
    code, _, err = run(
        ["apply", "--repo", str(root), "--config", str(config), "--yes", "--node", node_a.id],
        capsys,
    )
    assert code == 0, err

    code, out, err = run(
        ["plan", "--repo", str(root), "--config", str(config), "--detailed-exitcode"], capsys
    )
    assert code == 0, out + err
    assert "No changes" in out and "cannot read secret" not in out
    assert f"! node {node_b.id} is unreachable: not contacted: not in onlyNodes" in out

    code, out, err = run(["plan", "--repo", str(root), "--detailed-exitcode"], capsys)
    assert code == 2, out + err
    assert "~ web: rolling-update" in out
    (warning,) = [line for line in out.splitlines() if "cannot read secret" in line]
    assert warning.startswith("! cannot read secret(s) api-token (used by web)")
    assert "cannot tell whether a secret changed" in warning
    assert "--config" in warning and "--secrets-dir" in warning

    # the command line still wins over the config, and --config has no meaning offline
    code, out, err = run(
        ["plan", "--repo", str(root), "--config", str(config), "--node", node_b.id], capsys
    )
    assert code == 0, err
    assert f"! node {node_a.id} is unreachable: not contacted (--node)" in out
    assert f"! node {node_b.id} is unreachable" not in out
    code, _, err = run(["plan", "--config", str(config), "--base", "HEAD"], capsys)
    assert code == 2 and "--config is for live plans" in err


def test_live_plan_at_a_revision_reads_its_age_secrets(repo, capsys, tmp_path):
    """--rev renders the commit's own secrets/NAME.age: with the identity the secret is read
    (no warning), without it the plan says it cannot tell whether the secret changed."""
    import pyrage

    root, folder = repo["root"], repo["folder"]
    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "host.agekey"
    identity_file.write_text(f"{identity}\n")
    identity_file.chmod(0o600)
    (folder / "secrets").mkdir()
    (folder / "secrets/api-token.age").write_bytes(
        pyrage.encrypt(b"s3cret", [identity.to_public()])
    )
    write(
        folder,
        {
            "deployments/web.yaml": deployment(
                "web", 3, 'envars:\n  TOKEN: "{{secret:api-token}}"\n'
            )
        },
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "four: the token, encrypted")

    argv = ["plan", "--repo", str(folder), "--rev", "HEAD"]
    code, out, err = run([*argv, "--age-identity", str(identity_file)], capsys)
    assert code == 0, err
    assert any(line.startswith("+ web: create 3 replicas") for line in out.splitlines())
    assert "cannot read secret" not in out
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "! cannot read secret(s) api-token (used by web)" in out
