"""Converting remembers the quantities it parsed (a repository repeats the same few); a value
read before must give the same number, and a bad value must be reported in every document that
writes it, not only the first."""

from __future__ import annotations

from syncd.spec.converting import _Problems, convert
from syncd.spec.loading import document_from_data
from syncd.spec.quantities import parse_cpu


def _deployment(cpu: object, memory: object = "64Mi", file: str = "d.yaml"):
    data = {"id": "depl_a", "definitionId": "def_a", "resources": {"cpu": cpu, "memory": memory}}
    return convert(document_from_data(data, file), "Deployment")


def test_a_quantity_read_again_gives_the_same_number():
    for _ in range(2):
        model, problems = _deployment("250m", "1.5Gi")
        assert problems == []
        assert (model.resources.cpu_millis, model.resources.memory_bytes) == (250, 3 << 29)
    model, _ = _deployment(2)  # the number 2, not the text: two cores
    assert model.resources.cpu_millis == 2000


def test_a_bad_quantity_is_reported_in_every_document_that_writes_it():
    # straight to the converter: the schema would refuse this text before it
    for file in ("one.yaml", "two.yaml"):
        problems = _Problems()
        document = document_from_data({}, file)
        assert problems.quantity(document, ("cpu",), parse_cpu, "1e999999") is None
        assert [(p.file, p.path) for p in problems] == [(file, "$.cpu")]


def test_true_is_not_read_as_one_core_after_one_was():
    problems = _Problems()
    document = document_from_data({})
    assert problems.quantity(document, ("cpu",), parse_cpu, 1) == 1000
    assert problems.quantity(document, ("cpu",), parse_cpu, True) is None
    assert len(problems) == 1
