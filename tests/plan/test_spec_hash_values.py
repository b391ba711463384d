"""The spec hash labels every running container (``io.syncd.spec-hash``): a changed value rolls
it out. The hash is now encoded by the C JSON encoder in one call; these tests hold its values
equal to the former implementation's (kept here verbatim as the oracle) on generated specs and
on every repository the project ships."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.spec.desired import BuildSpec, InstanceSpec
from syncd.spec.models import HealthCheck, PortMapping, Resources, VolumeMount
from syncd.spec.rendering import HASH_FORMAT_VERSION, render_desired, spec_hash
from syncd.spec.repository import load_repository
from syncd.spec.templating import secret_names

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- the former code

_OLD_MISSING = object()


def _old_plain(value: object) -> object:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_old_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        names = tuple(
            (f.name, f.default if f.metadata.get("hash_omit_default") else _OLD_MISSING)
            for f in fields(type(value))
            if not f.metadata.get("hash_omit")  # BuildSpec.root: where the files are, not what
        )
        return {
            name: _old_plain(getattr(value, name))
            for name, default in names
            if default is _OLD_MISSING or getattr(value, name) != default
        }
    raise TypeError(f"cannot hash a {type(value).__name__}")


def old_spec_hash(spec: InstanceSpec, secret_digests: dict[str, str]) -> str:
    referenced = sorted({name for _, value in spec.env for name in secret_names(value)})
    document = {
        "format": HASH_FORMAT_VERSION,
        "spec": _old_plain(spec),
        "secrets": {name: secret_digests[name] for name in referenced if name in secret_digests},
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- generated specs

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
names = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)
env_value = st.one_of(
    text, names.map(lambda name: f"{{{{secret:{name}}}}}"), names.map(lambda n: f"x{{{{env:{n}}}}}")
)
ports = st.builds(
    PortMapping,
    internal=st.integers(1, 65535),
    host=st.integers(1, 65535),
    host_ip=st.sampled_from(["127.0.0.1", "0.0.0.0"]),
    protocol=st.sampled_from(["tcp", "udp"]),
    routed=st.booleans(),
)
health = st.builds(
    HealthCheck,
    kind=st.sampled_from(["http", "tcp", "command"]),
    path=st.none() | text,
    port=st.none() | st.integers(1, 65535),
    command=st.tuples(text) | st.just(()),
    interval_s=st.floats(0.1, 1e4, allow_nan=False),
    timeout_s=st.sampled_from([5.0, 0.5, 2]),
    retries=st.integers(0, 10),
    start_period_s=st.floats(0, 100, allow_nan=False),
)
builds = st.builds(BuildSpec, context=text, container_file=text, content_hash=text, image_tag=text)
specs = st.builds(
    InstanceSpec,
    image=text,
    build=st.none() | builds,
    command=st.none() | st.lists(text, max_size=3).map(tuple),
    env=st.lists(st.tuples(names, env_value), max_size=4).map(tuple),
    resources=st.builds(
        Resources,
        cpu_millis=st.none() | st.integers(0, 10**6),
        memory_bytes=st.none() | st.integers(0, 2**40),
        vram_bytes=st.none() | st.integers(0, 2**40),
    ),
    ports=st.lists(ports, max_size=3).map(tuple),
    health_check=st.none() | health,
    network=st.none() | text,
    volumes=st.lists(st.builds(VolumeMount, text, text, st.booleans()), max_size=2).map(tuple),
    labels=st.lists(st.tuples(text, text), max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(spec=specs, digests=st.dictionaries(names, text, max_size=3))
def test_the_hash_of_any_spec_is_the_former_one(spec: InstanceSpec, digests: dict[str, str]):
    assert spec_hash(spec, digests) == old_spec_hash(spec, digests)


def test_a_value_the_hash_cannot_encode_is_refused():
    spec = InstanceSpec(
        image="x",
        build=None,
        command=None,
        env=(),
        resources=Resources(),
        ports=(),
        health_check=None,
        network=object(),  # type: ignore[arg-type]
        volumes=(),
        labels=(),
    )
    with pytest.raises(TypeError, match="cannot hash a object"):
        spec_hash(spec, {})


# --------------------------------------------------------------------------- shipped repositories


class _Digests:
    """A digest for every secret name, so the secrets part of the hash is covered too."""

    def digest(self, name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()


def test_every_shipped_repository_keeps_its_hashes():
    root = ROOT / "example-repo"
    desired = render_desired(load_repository(root), environ={}, secrets=_Digests())
    assert desired.deployments, "a repository with nothing to hash proves nothing"
    for wanted in desired.deployments:
        digests = {
            name: _Digests().digest(name)
            for _, value in wanted.spec.env
            for name in secret_names(value)
        }
        assert wanted.spec_hash == old_spec_hash(wanted.spec, digests), wanted.id
