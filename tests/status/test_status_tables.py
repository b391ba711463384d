"""The reference's tables, character for character."""

from __future__ import annotations

from dataclasses import replace

from samples import sample_status

from syncd.status.tables import deployment_table, instance_table, node_table

# The sample of shared/reference/deploy-svc.md ("Listing Deployments"), with its trailing spaces
# removed. One deliberate difference: the reference's header has four spaces after
# "DEFINITION ID" while its rows pad that column to 16 (longest cell + 3); the rows are the rule,
# so the header here has three.
REFERENCE_DEPLOYMENT_LIST = """\
ID                DEFINITION ID   STATUS      DETAILS
depl_dbOdi5eLQK   test-a          OK
depl_dy2PDIkzqf   test-b          Error       build failed: COPY failed: file not found...
depl_user123      def_user456     Deploying   Starting container instances..."""


def test_deployment_list_matches_the_reference():
    assert deployment_table(sample_status().deployments, full=False) == REFERENCE_DEPLOYMENT_LIST


def test_api_deployments_print_the_same_table():
    api_body = [
        {
            k: v
            for k, v in d.to_json_dict().items()
            if k in ("id", "definitionId", "status", "details")
        }
        for d in sample_status().deployments
    ]
    assert deployment_table(api_body) == REFERENCE_DEPLOYMENT_LIST


def _with_details(details):
    first = sample_status().deployments[1]
    return [replace(first, details=details)]


def test_details_are_cut_at_75_characters_unless_full():
    long = "health check failed: " + "wget: server returned error: HTTP/1.1 503 " * 3
    cut = deployment_table(_with_details(long)).splitlines()[1]
    details = cut.split(None, 3)[3]
    assert len(details) == 75
    assert details == long[:72] + "..."
    full = deployment_table(_with_details(long), full=True).splitlines()[1]
    assert full.endswith(long.strip())


def test_details_of_exactly_75_characters_are_kept_and_newlines_flattened():
    exact = "x" * 75
    assert deployment_table(_with_details(exact)).splitlines()[1].split(None, 3)[3] == exact
    assert deployment_table(_with_details("line one\nline two")).endswith("line one line two")


def test_no_line_has_trailing_spaces():
    status = sample_status()
    for table in (
        deployment_table(status.deployments),
        node_table(status.nodes),
        instance_table(status.deployments, status.nodes),
    ):
        assert all(line == line.rstrip() for line in table.splitlines())


def test_empty_list_prints_the_header():
    assert deployment_table([]) == "ID   DEFINITION ID   STATUS   DETAILS"


def test_node_list():
    assert node_table(sample_status().nodes) == (
        "NODE ID   URL                             LAST HEARTBEAT         REACHABLE   CLUSTER\n"
        "node1     unix:///run/node1/docker.sock   2026-11-28T07:40:37Z   yes         local-docker\n"
        "node2     ssh://root@127.0.0.1:2222       never                  no"
    )


def test_instance_list_maps_containers_to_the_reference_columns():
    status = sample_status()
    # node2 is unreachable in the sample: what it ran is reported Unreachable
    assert instance_table(status.deployments, status.nodes) == (
        "INSTANCE ID         URL                             STATUS        OWNER             SLUG     LAST HEARTBEAT\n"
        "depl_dbOdi5eLQK-0   unix:///run/node1/docker.sock   Healthy       depl_dbOdi5eLQK   test-a   2026-11-28T07:40:37Z\n"
        "depl_dbOdi5eLQK-1   ssh://root@127.0.0.1:2222       Unreachable   depl_dbOdi5eLQK   test-a   never\n"
        "depl_dy2PDIkzqf-0   ssh://root@127.0.0.1:2222       Unreachable   depl_dy2PDIkzqf   test-b   never"
    )
    node2_up = replace(status.nodes[1], reachable=True, error=None)
    lines = instance_table(status.deployments, (status.nodes[0], node2_up)).splitlines()
    assert [line.split()[2] for line in lines[1:]] == ["Healthy", "Degraded", "Error"]
