"""Deployments rendered before, kept by the identity of their frozen models.

The parse cache hands out the very same ``Deployment`` and ``Definition`` objects for files whose
blob is unchanged, so a pass over the same commit, or over a new commit that changed a few
files, asks to render mostly pairs it rendered before. When a rendering depends on nothing but
the two models (an image, not a build context read from disk; no ``{{env:..}}`` or
``{{secret:..}}`` reference, whose values may change between passes) its result cannot differ,
and is reused.

Entries live as long as their deployment: a weak reference drops the entry when the deployment
object goes, so the memo holds what the parse cache or a caller still holds, and no more.
"""

from __future__ import annotations

import threading
import weakref

from syncd.spec.desired import InstanceSpec
from syncd.spec.models import Definition, Deployment


class _Entry(weakref.ref[Deployment]):
    """The deployment, weakly, with what rendering it gave: one object per entry, since each
    is one more object for the cyclic collector to walk. Nothing here refers to the
    deployment strongly, or it would never go."""

    __slots__ = ("key", "definition", "spec", "spec_hash")
    key: int
    definition: Definition
    spec: InstanceSpec
    spec_hash: str


def depends_on_models_alone(deployment: Deployment, definition: Definition) -> bool:
    """Whether rendering the pair reads nothing but the two models (see the module docstring)."""
    if definition.image is None:
        return False  # a build: its content hash is read from the checkout
    for envars in (deployment.envars, definition.envars):
        for _, value in envars:
            if "{{" in value:
                return False
    return True


class RenderMemo:
    """Rendered specs and hashes by the identity of (deployment, definition). Thread-safe."""

    def __init__(self) -> None:
        # re-entrant: dropping an entry may run another entry's weak-reference callback
        self._lock = threading.RLock()
        self._entries: dict[int, _Entry] = {}
        self._when_gone = self._forget  # one callback object for every entry

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, deployment: Deployment, definition: Definition
    ) -> tuple[InstanceSpec, str] | None:
        """The spec and spec hash rendering this very pair gave before, or None."""
        entry = self._entries.get(id(deployment))
        if entry is not None and entry() is deployment and entry.definition is definition:
            return entry.spec, entry.spec_hash
        return None

    def put(
        self, deployment: Deployment, definition: Definition, spec: InstanceSpec, spec_hash: str
    ) -> None:
        """Remember the pair's spec and hash, until ``deployment`` is gone."""
        entry = _Entry(deployment, self._when_gone)
        entry.key, entry.definition, entry.spec, entry.spec_hash = (
            id(deployment),
            definition,
            spec,
            spec_hash,
        )
        with self._lock:
            self._entries[entry.key] = entry

    def _forget(self, entry: _Entry) -> None:
        with self._lock:
            if self._entries.get(entry.key) is entry:
                del self._entries[entry.key]
