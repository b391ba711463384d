"""A deployment whose definition file exists but is invalid points at that file's own error."""

from __future__ import annotations

from syncd.spec.repository import load_repository

from .conftest import problems_of

# `image.internalPorts` is required: the definition is refused by its schema.
INVALID_DEFINITION = 'id: def_web\nimage: {name: "nginx:1.27"}\n'


def test_an_invalid_definition_is_not_reported_as_missing(repo):
    problems = problems_of(repo({"definitions/def_web.yaml": INVALID_DEFINITION}))
    own, reference = problems
    assert own.file == "definitions/def_web.yaml"
    assert reference.file == "deployments/depl_web.yaml"
    assert reference.path == "$.definitionId"
    assert "not found" not in reference.message
    assert reference.message == (
        f"definition 'def_web' exists in definitions/def_web.yaml but is invalid: "
        f"fix definitions/def_web.yaml:{own.line}: {own.message}"
    )


def test_a_bad_quantity_in_the_definition_file_counts_as_invalid_too(repo):
    bad_duration = (
        'id: def_web\nimage: {name: "nginx:1.27", internalPorts: [80]}\n'
        "healthCheck: {command: [true], interval: soon}\n"
    )
    problems = problems_of(repo({"definitions/def_web.yaml": bad_duration}))
    (reference,) = [p for p in problems if p.file.startswith("deployments/")]
    assert "exists in definitions/def_web.yaml but is invalid: fix definitions/def_web.yaml:3" in (
        reference.message
    )


def test_a_truly_missing_definition_is_still_not_found(repo):
    problems = problems_of(repo({"definitions/def_web.yaml": None}))
    (problem,) = problems
    assert problem.message == "definition 'def_web' not found; add one under definitions/"


def test_a_repaired_definition_makes_the_repository_valid_again(repo):
    root = repo({"definitions/def_web.yaml": INVALID_DEFINITION})
    problems_of(root)
    (root / "definitions/def_web.yaml").write_text(
        'id: def_web\nimage: {name: "nginx:1.27", internalPorts: [80]}\n'
    )
    assert [d.id for d in load_repository(root).definitions] == ["def_web"]
