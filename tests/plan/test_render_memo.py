"""Rendering the very same models again reuses the earlier spec and hash (spec/render_memo.py), but
only when nothing else could change them: an env or secret reference, or a build context on
disk, is rendered afresh every time."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

from syncd.spec.models import (
    Definition,
    Deployment,
    ImageSource,
    RepositorySource,
    RepoSpec,
    SourceLocation,
)
from syncd.spec.render_memo import RenderMemo, depends_on_models_alone
from syncd.spec.rendering import render_desired

IMAGE = Definition(id="def_web", image=ImageSource(name="web:1"), envars=(("A", "a"),))
PLAIN = Deployment(id="depl_web", definition_id="def_web", envars=(("B", "b"),))


class Digests:
    def __init__(self, value: str) -> None:
        self.value = value

    def digest(self, name: str) -> str:
        return self.value


def _render(deployment, definition, environ=None, secrets=None, root=Path("/nonexistent")):
    repo = RepoSpec(root=root, deployments=(deployment,), definitions=(definition,))
    return render_desired(repo, environ=environ or {}, secrets=secrets).deployments[0]


def test_the_same_models_rendered_again_give_the_same_spec_object_and_hash():
    first, second = _render(PLAIN, IMAGE), _render(PLAIN, IMAGE)
    assert second.spec is first.spec and second.spec_hash == first.spec_hash
    assert second == first
    # an equal but distinct deployment (another parse) is rendered afresh, to the same value
    other = dataclasses.replace(PLAIN)
    again = _render(other, IMAGE)
    assert again.spec is not first.spec and again.spec_hash == first.spec_hash
    # a new definition for the same deployment is not served the old rendering
    newer = dataclasses.replace(IMAGE, image=ImageSource(name="web:2"))
    assert _render(PLAIN, newer).spec_hash != first.spec_hash


def test_an_env_reference_is_resolved_afresh_on_every_render():
    deployment = dataclasses.replace(PLAIN, envars=(("WHERE", "{{env:REGION}}"),))
    assert not depends_on_models_alone(deployment, IMAGE)
    eu = _render(deployment, IMAGE, environ={"REGION": "eu"})
    us = _render(deployment, IMAGE, environ={"REGION": "us"})
    assert eu.spec.env != us.spec.env and eu.spec_hash != us.spec_hash


def test_a_changed_secret_value_changes_the_hash_on_the_next_render():
    definition = dataclasses.replace(IMAGE, envars=(("PW", "{{secret:db-pw}}"),))
    assert not depends_on_models_alone(PLAIN, definition)
    one = _render(PLAIN, definition, secrets=Digests("d1"))
    two = _render(PLAIN, definition, secrets=Digests("d2"))
    assert one.spec_hash != two.spec_hash


def test_a_build_context_is_hashed_from_disk_on_every_render(tmp_path: Path):
    context = tmp_path / "web"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    built = Definition(
        id="def_web",
        repository=RepositorySource(url="./web"),
        source=SourceLocation("definitions/web.yaml"),
    )
    assert not depends_on_models_alone(PLAIN, built)
    before = _render(PLAIN, built, root=tmp_path)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    assert _render(PLAIN, built, root=tmp_path).spec_hash != before.spec_hash


def test_an_entry_goes_with_its_deployment():
    memo = RenderMemo()
    deployment = dataclasses.replace(PLAIN)
    spec = _render(deployment, IMAGE).spec
    memo.put(deployment, IMAGE, spec, "h")
    assert memo.get(deployment, IMAGE) == (spec, "h")
    assert memo.get(deployment, dataclasses.replace(IMAGE)) is None  # another definition object
    assert len(memo) == 1
    del deployment
    gc.collect()
    assert len(memo) == 0
