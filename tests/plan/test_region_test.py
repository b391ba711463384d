"""The placement warnings test each instance's node against its deployment's regions with a set
lookup (``region_test``); it must agree with ``in_target_regions``, the rule the allocator uses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.plan.placement_warnings import region_test
from syncd.plan.rooms import in_target_regions
from syncd.spec.models import NodeSpec, TargetRegion

CLUSTERS = st.sampled_from(["east", "west", "north"])
ZONES = st.sampled_from([None, "a", "b"])
regions_st = st.lists(st.builds(TargetRegion, CLUSTERS, ZONES), min_size=1, max_size=4)
node_st = st.builds(
    lambda cluster, zone: NodeSpec(id="n", url="unix:///n.sock", cluster=cluster, zone=zone),
    CLUSTERS,
    ZONES,
)


@given(regions=regions_st, node=node_st)
def test_the_set_lookup_agrees_with_the_allocators_rule(regions, node):
    assert region_test(regions)(node) == in_target_regions(node, regions)
