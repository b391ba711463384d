"""What a refused branch head would change: for the Plan page, which must say plainly that the
head is not applied, why, and what applying it would do.

A head refused by a guard (unsigned under the signature policy, not a descendant under the
rollback guard) was never loaded, so the daemon has no plan of it. ``HeadPreviews`` makes one
once per head sha, on the pass thread after the pass: the head's files are written to a scratch
directory, loaded through the sync layer's load step, and planned against the nodes by the very
pass ``syncd plan`` runs (``Sync.run(dry_run=True)``): nothing is routed, built or applied. A
head that does not load (or asks for more replicas than the daemon allows) gets its validation
errors instead. Page views read the result; they never cost a pass.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncd.daemon.commits import replica_problems
from syncd.daemon.config import DaemonSettings
from syncd.errors import SpecError, SpecProblem, SyncdError
from syncd.plan import fields
from syncd.plan.model import Plan
from syncd.source.revisions import checkout_revision
from syncd.spec.desired import DesiredState
from syncd.sync import Revision, Sync

log = logging.getLogger("syncd.daemon")

SCRATCH_DIR = ".head-preview"  # in the state dir, removed once the head is planned


@dataclass(frozen=True)
class RefusedHead:
    """A branch head the daemon refused, and what it would change if it were applied."""

    sha: str
    problems: tuple[SpecProblem, ...]  # why it is refused
    planned_at: float
    # It loads: its plan against the nodes as observed at planned_at, each changing
    # deployment's field-level diff from the applied commit first in its ``changes``.
    plan: Plan | None = None
    load_problems: tuple[SpecProblem, ...] = ()  # it does not load: its validation errors
    preview_error: str | None = None  # it could not be planned (a node or Git error)


class HeadPreviews:
    """The refused head's preview, made once per sha; ``current`` is swapped whole, so the
    page's threads read it without a lock."""

    def __init__(self, settings: DaemonSettings, sync: Sync) -> None:
        self.settings = settings
        self._sync = sync
        self.current: RefusedHead | None = None

    def consider(
        self,
        refused: tuple[str, Sequence[SpecProblem]] | None,
        applied: DesiredState | None,
        replica_overrides: Mapping[str, int],
        *,
        does_not_load: bool = False,
    ) -> None:
        """Keep the preview of ``refused`` (the head's sha and why it is refused; None: the
        head is applied), making it when the head is new. ``applied``: the applied commit's
        desired state, which the fields are compared with; ``replica_overrides``: the
        autoscaler's counts of the last pass, so the preview shows no scaling it would not do.
        ``does_not_load``: the head was loaded and refused for its own files, so its problems
        are its load errors already: nothing is checked out or loaded again."""
        if refused is None:
            self.current = None
            return
        sha, problems = refused
        if self.current is not None and self.current.sha == sha:
            return
        if does_not_load:
            self.current = RefusedHead(
                sha, tuple(problems), time.time(), load_problems=tuple(problems)
            )
            return
        started = time.monotonic()
        try:
            self.current = self._preview(sha, tuple(problems), applied, dict(replica_overrides))
        except Exception as exc:  # the preview is for the page: it never fails a pass
            log.exception("could not plan the refused head %s", sha[:12])
            self.current = RefusedHead(
                sha, tuple(problems), time.time(), preview_error=f"internal error: {exc}"
            )
        log.info(
            "planned what the refused head %s would change (%.1fs)",
            sha[:12],
            time.monotonic() - started,
        )

    def _preview(
        self,
        sha: str,
        problems: tuple[SpecProblem, ...],
        applied: DesiredState | None,
        overrides: dict[str, int],
    ) -> RefusedHead:
        scratch = self.settings.state_dir / SCRATCH_DIR
        shutil.rmtree(scratch, ignore_errors=True)  # a crash's leftover
        try:
            checkout_revision(self.settings.checkout_dir, sha, scratch)
            root = scratch / self.settings.repo.path
            try:
                loaded = self._sync.load(Revision(root, sha))
            except SpecError as exc:
                return RefusedHead(sha, problems, time.time(), load_problems=tuple(exc.problems))
            too_many = replica_problems(
                (d.deployment for d in loaded.desired.deployments), self.settings.max_replicas
            )
            if too_many:
                return RefusedHead(sha, problems, time.time(), load_problems=tuple(too_many))
            result = self._sync.run(
                loaded,
                dry_run=True,
                replica_overrides=lambda *_: overrides,
                raise_plan_error=False,
            )
            if result.plan_error is not None:
                return RefusedHead(
                    sha, problems, time.time(), preview_error=result.plan_error.message
                )
            assert result.plan is not None  # planned: no plan_error
            return RefusedHead(
                sha, problems, time.time(), plan=with_field_changes(result.plan, applied)
            )
        except SyncdError as exc:
            return RefusedHead(sha, problems, time.time(), preview_error=exc.message)
        except OSError as exc:  # its files could not be written (a full disk)
            why = exc.strerror or str(exc)
            return RefusedHead(
                sha, problems, time.time(), preview_error=f"could not write its files: {why}"
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def with_field_changes(plan: Plan, applied: DesiredState | None) -> Plan:
    """``plan`` with each changing deployment's fields compared with the applied commit's
    (``syncd.plan.fields``, as the offline plan does) ahead of the live plan's own changes,
    which can name only the spec hash: a running container carries no more."""
    deployments = tuple(
        dataclasses.replace(
            planned,
            changes=fields.diff(
                applied.deployment(planned.deployment_id) if applied is not None else None,
                planned.desired,
            )
            + planned.changes,
        )
        if planned.has_changes
        else planned
        for planned in plan.deployments
    )
    return dataclasses.replace(plan, deployments=deployments)


def autoscaled_counts(plan: Plan | None) -> dict[str, int]:
    """The replica counts the autoscaler chose in ``plan`` (the last pass's)."""
    if plan is None:
        return {}
    return {d.deployment_id: d.replicas for d in plan.deployments if d.autoscaled}
