"""render_desired (merging, env references, build contexts) and spec_hash (exactly what needs a
new container)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from syncd.errors import SpecError
from syncd.spec.models import (
    AutoScaling,
    Definition,
    Deployment,
    HealthCheck,
    ImageSource,
    PortMapping,
    RepositorySource,
    RepoSpec,
    Resources,
    SourceLocation,
    Strategy,
    TargetRegion,
    VolumeMount,
)
from syncd.spec.rendering import build_context_hash, render_desired, spec_hash

DEFINITION = Definition(
    id="def_web",
    image=ImageSource(name="web:1", internal_ports=(80,)),
    envars=(("A", "from-definition"), ("B", "b"), ("PW", "{{secret:db-pw}}")),
    source=SourceLocation("definitions/web.yaml", 1, 1),
)
DEPLOYMENT = Deployment(
    id="depl_web",
    definition_id="def_web",
    replicas=2,
    envars=(("C", "c"), ("A", "from-deployment"), ("WHERE", "{{env:REGION}}")),
    resources=Resources(cpu_millis=500, memory_bytes=256 << 20),
    source=SourceLocation("deployments/web.yaml", 3, 1),
)


class Digests:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def digest(self, name: str) -> str | None:
        return self.values.get(name)


def render(deployment=DEPLOYMENT, definition=DEFINITION, environ=None, secrets=None, root=None):
    repo = RepoSpec(
        root=root or Path("/nonexistent"), deployments=(deployment,), definitions=(definition,)
    )
    return render_desired(
        repo, environ={"REGION": "eu"} if environ is None else environ, secrets=secrets
    ).deployments[0]


def test_deployment_envars_override_in_definition_order_then_new_keys():
    rendered = render()
    assert rendered.spec.env == (
        ("A", "from-deployment"),
        ("B", "b"),
        ("PW", "{{secret:db-pw}}"),
        ("C", "c"),
        ("WHERE", "eu"),
    )
    assert rendered.spec.display_env()[2] == ("PW", "(secret db-pw)")
    assert rendered.spec.resources == DEPLOYMENT.resources
    assert rendered.spec.image == "web:1" and rendered.spec.build is None


def test_zero_replicas_means_one():
    assert render(dataclasses.replace(DEPLOYMENT, replicas=0)).replicas == 1


def test_missing_env_names_the_file_and_key():
    with pytest.raises(SpecError) as caught:
        render(environ={})
    (problem,) = caught.value.problems
    assert problem.file == "deployments/web.yaml" and problem.line == 3
    assert problem.path == "$.envars.WHERE"
    assert "REGION" in problem.message


def test_env_defaults_to_the_process_environment(monkeypatch):
    monkeypatch.setenv("REGION", "from-os")
    repo = RepoSpec(root=Path("/x"), deployments=(DEPLOYMENT,), definitions=(DEFINITION,))
    assert dict(render_desired(repo).deployments[0].spec.env)["WHERE"] == "from-os"


# --------------------------------------------------------------------------- spec hash

NOT_A_ROLLOUT = {
    "replicas": 7,
    "auto_scaling": AutoScaling(1, 9, 50),
    "strategy": Strategy(type="Recreate"),
    "name": "renamed",
    "description": "described",
    "target_regions": (TargetRegion("east"),),
}


@pytest.mark.parametrize("field", sorted(NOT_A_ROLLOUT))
def test_deployment_settings_do_not_change_the_hash(field):
    changed = dataclasses.replace(DEPLOYMENT, **{field: NOT_A_ROLLOUT[field]})
    assert render(changed).spec_hash == render().spec_hash


ROLLOUT_DEPLOYMENT = {
    "envars": (("C", "other"),),
    "resources": Resources(cpu_millis=1000, memory_bytes=256 << 20),
}
ROLLOUT_DEFINITION = {
    "image": ImageSource(name="web:2", internal_ports=(80,)),
    "command": ("/bin/web", "--fast"),
    "ports": (PortMapping(internal=80, host=8080),),
    "health_check": HealthCheck(kind="tcp", port=80),
    "network": "host",
    "volumes": (VolumeMount(source="data", target="/data"),),
    "labels": (("team", "a"),),
    "envars": (("A", "from-definition"), ("B", "changed"), ("PW", "{{secret:db-pw}}")),
}


@pytest.mark.parametrize("field", sorted(ROLLOUT_DEPLOYMENT))
def test_container_fields_of_the_deployment_change_the_hash(field):
    changed = dataclasses.replace(DEPLOYMENT, **{field: ROLLOUT_DEPLOYMENT[field]})
    assert render(changed).spec_hash != render().spec_hash


@pytest.mark.parametrize("field", sorted(ROLLOUT_DEFINITION))
def test_container_fields_of_the_definition_change_the_hash(field):
    changed = dataclasses.replace(DEFINITION, **{field: ROLLOUT_DEFINITION[field]})
    assert render(definition=changed).spec_hash != render().spec_hash


def test_env_value_from_the_environment_changes_the_hash():
    assert render(environ={"REGION": "us"}).spec_hash != render().spec_hash


def test_secret_value_changes_the_hash_offline_covers_names_only():
    offline = render()
    one = render(secrets=Digests({"db-pw": "d1"}))
    two = render(secrets=Digests({"db-pw": "d2"}))
    again = render(secrets=Digests({"db-pw": "d1", "unused": "x"}))
    assert len({offline.spec_hash, one.spec_hash, two.spec_hash}) == 3
    assert again.spec_hash == one.spec_hash  # secrets the spec does not use do not count
    renamed = dataclasses.replace(
        DEFINITION, envars=(("A", "from-definition"), ("B", "b"), ("PW", "{{secret:other}}"))
    )
    assert render(definition=renamed).spec_hash != offline.spec_hash


def test_spec_hash_is_a_sha256_hex_and_stable():
    rendered = render()
    assert len(rendered.spec_hash) == 64 and int(rendered.spec_hash, 16) >= 0
    assert spec_hash(rendered.spec, {}) == rendered.spec_hash


# --------------------------------------------------------------------------- builds


def _build_repo(tmp_path: Path) -> Path:
    context = tmp_path / "services" / "web"
    (context / "www").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM syncd-test/busybox:latest\nCOPY www /www\n")
    (context / "www" / "index.html").write_text("hello\n")
    return tmp_path


BUILT = Definition(
    id="Def_Web",
    repository=RepositorySource(url="./services/web"),
    source=SourceLocation("definitions/web.yaml"),
)


def render_built(definition, root):
    deployment = dataclasses.replace(DEPLOYMENT, definition_id=definition.id)
    return render(deployment, definition, root=root)


def test_build_from_a_local_context_is_tagged_by_content(tmp_path):
    root = _build_repo(tmp_path)
    first = render_built(BUILT, root)
    build = first.spec.build
    assert build is not None and build.context == "services/web"
    assert build.container_file == "Dockerfile"
    assert build.image_tag == f"syncd-build/def_web:{build.content_hash[:12]}"
    assert first.spec.image == build.image_tag

    (root / "services/web/www/index.html").write_text("changed\n")
    second = render_built(BUILT, root)
    assert second.spec.build.content_hash != build.content_hash
    assert second.spec_hash != first.spec_hash

    script = root / "services/web/www/index.html"
    os.chmod(script, 0o755)
    assert render_built(BUILT, root).spec_hash != second.spec_hash


def test_build_hash_ignores_non_executable_mode_bits_and_reads_no_symlink(tmp_path):
    root = _build_repo(tmp_path)
    before = build_context_hash(root, "services/web")
    os.chmod(root / "services/web/www/index.html", 0o600)
    assert build_context_hash(root, "services/web") == before
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret").write_text("never read")
    (root / "services/web/link").symlink_to(outside / "secret")
    with_link = build_context_hash(root, "services/web")
    (outside / "secret").write_text("changed, still never read")
    assert build_context_hash(root, "services/web") == with_link != before


def test_build_context_leaving_the_repo_is_refused(tmp_path):
    root = _build_repo(tmp_path)
    escaping = dataclasses.replace(BUILT, repository=RepositorySource(url="../.."))
    with pytest.raises(SpecError) as caught:
        render_built(escaping, root)
    assert "leaves the repository" in str(caught.value)
    missing = dataclasses.replace(BUILT, repository=RepositorySource(url="./services/nope"))
    with pytest.raises(SpecError, match="not a directory"):
        render_built(missing, root)


def test_canonical_form_is_exactly_what_asdict_gives(tmp_path):
    """spec_hash encodes the spec itself (fast); it must stay byte-identical to asdict's form,
    less the fields added later that are left out at their default (``routed: false``), so
    every hash from before them is unchanged, and those never hashed (a build's ``root``)."""
    import json

    from syncd.spec.rendering import canonical_json

    def without_defaults(document: dict) -> dict:
        for port in document["ports"]:
            if port["routed"] is False:
                del port["routed"]
        if document["build"] is not None:
            del document["build"]["root"]
        for unset in ("stop_grace_s", "stop_signal"):  # a definition's stop behaviour, unset
            if document[unset] is None:
                del document[unset]
        return document

    full = dataclasses.replace(DEFINITION, **ROLLOUT_DEFINITION)
    assert render(definition=full).spec.ports, "the comparison must cover a port"
    for spec in (render(definition=full).spec, render_built(BUILT, _build_repo(tmp_path)).spec):
        assert canonical_json(spec) == json.dumps(
            without_defaults(dataclasses.asdict(spec)),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
