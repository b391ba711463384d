"""Whose containers a plan may touch: ours, and everyone else's (foreign), decided first.

Several daemons (or ``syncd apply`` runs on different repositories) may share a node. Each
container syncd creates carries its owner in ``io.syncd.owner``; a plan made for an owner keeps,
replaces, scales and prunes only the containers of that owner. Everything else is foreign:

- another owner's container is never touched and never counts toward the mass-prune guard, but
  its resource and host-port claims still count in the allocator: it occupies the node;
- an *unscoped* container (no owner label: created before owners existed) is adopted when its
  deployment id is one this repository declares, so upgrading syncd restarts nothing (its spec
  hash is unchanged; it gets the label the next time it is replaced); an unscoped container of
  an undeclared deployment might be anyone's leftover, so it is reported and left alone.

A plan without an owner (``owner=None``) treats every managed container as its own, as before.

Of our own, a deployment with any instance written from a *newer* commit than the plan's (the
sync layer asks Git: syncd/source/ancestry.py) is held: a newer daemon is rolling it out, so
this plan neither replaces, scales nor prunes any of its instances, and says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from syncd.plan.model import ForeignInstances
from syncd.state import LABEL_DEPLOYMENT, ObservedInstance

_LISTED_AT_MOST = 3  # owners or deployment ids named in one warning line


@dataclass(frozen=True)
class Ownership:
    """Observed instances split by whether this plan may touch them."""

    ours: tuple[ObservedInstance, ...]
    foreign: tuple[ObservedInstance, ...] = ()
    held: tuple[ObservedInstance, ...] = ()  # ours, of deployments a newer commit rolls out


def hold_newer(ownership: Ownership, newer_commits: Collection[str]) -> Ownership:
    """``ownership`` with every instance of a deployment that has one from ``newer_commits``
    moved from ours to held (the whole deployment: its older instances are the newer daemon's
    rollout in progress)."""
    if not newer_commits:
        return ownership
    held_ids = {i.deployment_id for i in ownership.ours if i.commit in newer_commits}
    return Ownership(
        ours=tuple(i for i in ownership.ours if i.deployment_id not in held_ids),
        foreign=ownership.foreign,
        held=tuple(i for i in ownership.ours if i.deployment_id in held_ids),
    )


def held_warnings(held: Iterable[ObservedInstance], newer_commits: Collection[str]) -> list[str]:
    """One line per held deployment: which newer commit wrote it and what happens next."""
    per_deployment: dict[str, list[ObservedInstance]] = defaultdict(list)
    for instance in held:
        per_deployment[instance.deployment_id].append(instance)
    warnings = []
    for deployment_id, instances in sorted(per_deployment.items()):
        commits = sorted({i.commit[:12] for i in instances if i.commit in newer_commits})
        warnings.append(
            f"{deployment_id}: {_containers(len(instances))} left alone, written from a newer "
            f"commit than this one ({_listed(tuple(commits))}) or one not fetched yet: "
            "another daemon is ahead; retried after the next fetch (to roll back, revert in Git)"
        )
    return warnings


def partition(
    instances: Iterable[ObservedInstance], owner: str | None, desired_ids: Collection[str]
) -> Ownership:
    """Split ``instances`` into ours and foreign for a plan made for ``owner``.

    ``desired_ids`` are the deployment ids the repository declares: an unscoped instance of one
    of them is ours (adopted). With ``owner`` None everything is ours.
    """
    every = tuple(instances)
    if owner is None:
        return Ownership(ours=every)
    ours: list[ObservedInstance] = []
    foreign: list[ObservedInstance] = []
    for instance in every:
        if instance.owner == owner or (
            instance.owner is None and instance.deployment_id in desired_ids
        ):
            ours.append(instance)
        else:
            foreign.append(instance)
    return Ownership(ours=tuple(ours), foreign=tuple(foreign))


def foreign_by_node(foreign: Iterable[ObservedInstance]) -> tuple[ForeignInstances, ...]:
    """One summary per node holding foreign instances, in node order."""
    per_node: dict[str, list[ObservedInstance]] = defaultdict(list)
    for instance in foreign:
        per_node[instance.node_id].append(instance)
    report = []
    for node_id, held in sorted(per_node.items()):
        unscoped = [i for i in held if i.owner is None]
        report.append(
            ForeignInstances(
                node_id=node_id,
                count=len(held),
                owners=tuple(sorted({i.owner for i in held if i.owner is not None})),
                unscoped=len(unscoped),
                unscoped_deployments=tuple(sorted({i.deployment_id for i in unscoped})),
            )
        )
    return tuple(report)


def foreign_warnings(report: Iterable[ForeignInstances]) -> list[str]:
    """The plan's warning lines: per node, what is left alone and, for unscoped leftovers, how
    to remove them by hand."""
    warnings = []
    for node in report:
        scoped = node.count - node.unscoped
        if scoped:
            whose = "another owner" if len(node.owners) == 1 else "other owners"
            warnings.append(
                f"{node.node_id} runs {_containers(scoped)} of {whose} "
                f"({_listed(node.owners)}): left alone"
            )
        if node.unscoped:
            first = node.unscoped_deployments[0]
            warnings.append(
                f"{node.node_id} runs {_containers(node.unscoped)} without an owner label, of "
                "deployments this repository does not declare "
                f"({_listed(node.unscoped_deployments)}): left alone; if they are leftovers, "
                f"remove them by hand (docker ps -a --filter label={LABEL_DEPLOYMENT}={first}, "
                "then docker rm -f)"
            )
    return warnings


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:_LISTED_AT_MOST])
    more = len(names) - _LISTED_AT_MOST
    return f"{shown} and {more} more" if more > 0 else shown


def _containers(number: int) -> str:
    return f"{number} container{'' if number == 1 else 's'}"
