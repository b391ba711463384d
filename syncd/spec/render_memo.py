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

# (the deployment, weakly; its definition; the spec and its hash). Nothing in an entry refers to
# the deployment strongly, or it would never go.
_Entry = tuple["weakref.ref[Deployment]", Definition, InstanceSpec, str]


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

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, deployment: Deployment, definition: Definition
    ) -> tuple[InstanceSpec, str] | None:
        """The spec and spec hash rendering this very pair gave before, or None."""
        entry = self._entries.get(id(deployment))
        if entry is not None and entry[0]() is deployment and entry[1] is definition:
            return entry[2], entry[3]
        return None

    def put(
        self, deployment: Deployment, definition: Definition, spec: InstanceSpec, spec_hash: str
    ) -> None:
        """Remember the pair's spec and hash, until ``deployment`` is gone."""
        key = id(deployment)
        entries, lock = self._entries, self._lock

        def forget(reference: weakref.ref[Deployment]) -> None:
            with lock:
                entry = entries.get(key)
                if entry is not None and entry[0] is reference:
                    del entries[key]

        with lock:
            entries[key] = (weakref.ref(deployment, forget), definition, spec, spec_hash)
