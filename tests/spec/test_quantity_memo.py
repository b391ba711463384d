"""Converting remembers the quantities it parsed and the strategies and resources it built (a
repository repeats the same few); a value read before must give the same number, and a bad value
must be reported in every document that writes it, not only the first."""

from __future__ import annotations

from syncd.spec.converting import _STRATEGIES, _Problems, _shared, _strategy, convert
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


def _with_strategy(strategy: dict[str, object], file: str = "d.yaml"):
    data = {"id": "depl_a", "definitionId": "def_a", "strategy": strategy}
    return convert(document_from_data(data, file), "Deployment")


def test_deployments_that_write_the_same_strategy_and_resources_share_one_model():
    first, _ = _deployment("250m", "128Mi", "one.yaml")
    second, _ = _deployment("250m", "128Mi", "two.yaml")
    assert first.resources is second.resources
    other, _ = _deployment("500m", "128Mi", "three.yaml")
    assert other.resources.cpu_millis == 500 and other.resources is not first.resources
    rolling = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0, "drainTimeout": "5s"}
    a, _ = _with_strategy(rolling)
    b, _ = _with_strategy(dict(rolling))
    assert a.strategy is b.strategy and a.strategy.drain_timeout_s == 5.0
    c, _ = _with_strategy({**rolling, "maxSurge": True})  # True is not 1: not the same model
    assert c is None or c.strategy is not a.strategy


def test_a_strategy_with_a_bad_quantity_is_reported_in_every_document_that_writes_it():
    for file in ("one.yaml", "two.yaml"):
        problems = _Problems()
        document = document_from_data({}, file)
        strategy = _shared(
            _STRATEGIES, {"drainTimeout": "1e999999s"}, document, problems, _strategy
        )
        assert strategy.drain_timeout_s == 10.0  # the default stands in; the problem is raised
        assert [(p.file, p.path) for p in problems] == [(file, "$.strategy.drainTimeout")]


def test_canary_steps_a_list_that_cannot_key_a_shared_model_still_convert():
    canary = {"type": "Canary", "steps": [{"weight": 10, "pause": "30s"}, {"weight": 50}]}
    a, _ = _with_strategy(canary)
    b, _ = _with_strategy(canary)
    assert a.strategy == b.strategy and [s.pause_s for s in a.strategy.steps] == [30.0, 0.0]
