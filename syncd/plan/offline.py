"""The offline plan: what would change going from one commit's desired state to another's.

No node is contacted: it is the preview a CI job posts on a pull request. Each deployment is
compared field by field, so the plan can say *what* changed (``image``, ``env.LOG_LEVEL``,
``resources.memory``...), which the live plan cannot (a container carries only its hash).
"""

from __future__ import annotations

from syncd.plan.fields import diff, needs_new_container
from syncd.plan.model import ActionKind, DeploymentPlan, FieldChange, Plan
from syncd.spec.desired import DesiredDeployment, DesiredState


def plan_offline(base: DesiredState | None, head: DesiredState) -> Plan:
    """Plan the change from ``base`` (None: an empty repository) to ``head``, without nodes."""
    before = {d.id: d for d in base.deployments} if base is not None else {}
    after = {d.id: d for d in head.deployments}
    plans = [
        _compare(deployment_id, before.get(deployment_id), after.get(deployment_id))
        for deployment_id in sorted(set(before) | set(after))
    ]
    return Plan(
        revision=head.revision,
        deployments=tuple(plans),
        base_revision=base.revision if base is not None else None,
        offline=True,
    )


def _compare(
    deployment_id: str, old: DesiredDeployment | None, new: DesiredDeployment | None
) -> DeploymentPlan:
    if old is not None and old == new:
        # Most of a pull request's deployments are untouched: equal rendered deployments have
        # no field to diff, and comparing them is ~30x cheaper than flattening both.
        return DeploymentPlan(
            deployment_id=deployment_id,
            actions=(ActionKind.NOOP,),
            desired=new,
            current_hashes=(old.spec_hash,),
            target_hash=new.spec_hash,
            replicas=new.replicas,
            replicas_before=old.replicas,
            offline=True,
        )
    changes = diff(old, new)
    if new is None:
        assert old is not None
        return DeploymentPlan(
            deployment_id=deployment_id,
            actions=(ActionKind.PRUNE,),
            desired=None,
            current_hashes=(old.spec_hash,),
            target_hash=None,
            replicas_before=old.replicas,
            offline=True,
        )
    if old is None:
        return DeploymentPlan(
            deployment_id=deployment_id,
            actions=(ActionKind.CREATE,),
            desired=new,
            current_hashes=(),
            target_hash=new.spec_hash,
            changes=changes,
            replicas=new.replicas,
            offline=True,
        )
    actions: list[ActionKind] = []
    if old.spec_hash != new.spec_hash:
        recreate = new.strategy.type == "Recreate"
        actions.append(ActionKind.RECREATE if recreate else ActionKind.ROLLING_UPDATE)
        if not any(needs_new_container(c.path) for c in changes):
            # e.g. a changed secret digest or hash format: say so rather than show nothing
            changes = (
                *changes,
                FieldChange("specHash", old.spec_hash[:12], new.spec_hash[:12]),
            )
    if new.replicas > old.replicas:
        actions.append(ActionKind.SCALE_UP)
    elif new.replicas < old.replicas:
        actions.append(ActionKind.SCALE_DOWN)
    return DeploymentPlan(
        deployment_id=deployment_id,
        actions=tuple(actions) or (ActionKind.NOOP,),
        desired=new,
        current_hashes=(old.spec_hash,),
        target_hash=new.spec_hash,
        changes=changes,
        replicas=new.replicas,
        replicas_before=old.replicas,
        offline=True,
    )
