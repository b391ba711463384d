"""Secrets reach the container's environment and nothing else: every output is grepped."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyrage
import pytest

from syncd.apply.executor import apply_plan
from syncd.plan import render
from syncd.spec.secrets import SecretProvider
from tests.apply.applykit import FAST_OPTIONS, deployment, list_deployment, plan_repo

DIR_SECRET = "dir-Secret-7f3a9c"
AGE_SECRET = "age-Secret-51be0d"


def syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def secret_sources(repo, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    secrets_dir = tmp_path / "secrets.d"
    secrets_dir.mkdir(mode=0o700)
    secrets_dir.chmod(0o700)
    (secrets_dir / "db-password").write_text(DIR_SECRET + "\n")
    (secrets_dir / "db-password").chmod(0o600)
    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "host.agekey"
    identity_file.write_text(f"{identity}\n")
    identity_file.chmod(0o600)
    (repo.root / "secrets").mkdir(parents=True)
    (repo.root / "secrets" / "jwt.age").write_bytes(
        pyrage.encrypt(AGE_SECRET.encode(), [identity.to_public()])
    )
    return secrets_dir, identity_file


def secret_deployment(version: str = "1", mode: str = "ok") -> dict:  # type: ignore[type-arg]
    doc = deployment("depl_secret", 2, version=version, mode=mode)
    doc["envars"]["DB_PASSWORD"] = "{{secret:db-password}}"
    doc["envars"]["JWT"] = "Bearer {{secret:jwt}}"
    return doc


def assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        assert DIR_SECRET not in output and AGE_SECRET not in output, output


def test_cli_apply_puts_secrets_in_the_container_only(engines, repo, secret_sources) -> None:
    secrets_dir, identity_file = secret_sources
    repo.write([secret_deployment()])
    done = syncd(
        "apply", "--repo", str(repo.root), "--yes",
        "--secrets-dir", str(secrets_dir), "--age-identity", str(identity_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    seen = list_deployment(clients, "depl_secret")
    assert len(seen) == 2 and all(s.healthy for s in seen)
    for instance in seen:
        attrs = clients[instance.node_id].api.inspect_container(instance.container_id)
        assert f"DB_PASSWORD={DIR_SECRET}" in attrs["Config"]["Env"]
        assert f"JWT=Bearer {AGE_SECRET}" in attrs["Config"]["Env"]
        assert_no_secret(str(attrs["Config"]["Labels"]), attrs["Name"])

    # a second run, with the secret sources from a daemon config file, has nothing to do: the
    # digests in the hash are stable (without the secrets the hash would differ: a rollout)
    config = repo.root.parent / "syncd.yaml"
    config.write_text(
        f"repo:\n  url: {repo.root}\nsecrets:\n  dir: {secrets_dir}\n  ageIdentity: {identity_file}\n"
    )
    again = syncd("apply", "--repo", str(repo.root), "--yes", "--config", str(config))
    assert again.returncode == 0 and "Nothing to do" in again.stdout, again.stdout + again.stderr

    # an unsafe secrets file is refused before anything happens, with the fix in the hint
    (secrets_dir / "db-password").chmod(0o644)
    refused = syncd(
        "apply", "--repo", str(repo.root), "--yes",
        "--secrets-dir", str(secrets_dir), "--age-identity", str(identity_file),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "chmod 600" in refused.stderr and "Traceback" not in refused.stderr
    assert_no_secret(refused.stdout, refused.stderr)


def test_a_failing_instance_that_prints_its_secret_is_redacted(
    engines, pool, repo, secret_sources, caplog
) -> None:
    secrets_dir, identity_file = secret_sources
    provider = SecretProvider(
        secrets_dir=secrets_dir, repo_root=repo.root, age_identity=identity_file
    )
    # the crashing version prints "boom: bad config for version $VERSION": make that the secret
    doc = secret_deployment(mode="crash")
    doc["envars"]["VERSION"] = "{{secret:db-password}}"
    repo.write([doc])
    caplog.set_level(logging.DEBUG)
    events = []
    the_plan = plan_repo(repo, pool, secrets=provider)
    report = apply_plan(
        the_plan,
        pool,
        repo_root=repo.root,
        secrets=provider,
        commit="test",
        options=replace(FAST_OPTIONS, progress_deadline_s=5.0),
        events=events.append,
    )
    result = report.result("depl_secret")
    assert result.outcome == "failed"
    assert "boom: bad config for version (secret db-password)" in result.reason
    assert_no_secret(
        repr(report),
        caplog.text,
        repr(events),
        render.text(the_plan),
        str(render.as_dict(the_plan)),
    )
