"""quick_init (spec/models_frozen.py): the frozen models' quicker ``__init__`` takes the
parameters the dataclass's own would, and the models stay frozen, comparable and picklable."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from syncd.spec import models
from syncd.spec.models_frozen import quick_init

MODELS = [
    value
    for value in vars(models).values()
    if isinstance(value, type)
    and dataclasses.is_dataclass(value)
    and value.__module__ == models.__name__
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_parameters_and_defaults_are_the_fields(model):
    parameters = list(inspect.signature(model).parameters.values())
    assert [p.name for p in parameters] == [f.name for f in dataclasses.fields(model)]
    for parameter, item in zip(parameters, dataclasses.fields(model), strict=True):
        if item.default is not dataclasses.MISSING:
            assert parameter.default is item.default
        elif item.default_factory is dataclasses.MISSING:
            assert parameter.default is inspect.Parameter.empty


def test_a_factory_default_is_made_for_each_instance_and_a_given_value_is_kept():
    first = models.Deployment(id="a", definition_id="d")
    assert first.strategy == models.Strategy() and first.resources == models.Resources()
    given = models.Strategy(type="Recreate")
    assert models.Deployment(id="a", definition_id="d", strategy=given).strategy is given


def test_models_stay_frozen_equal_hashable_replaceable_and_picklable():
    region = models.TargetRegion("east", zone="east-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        region.zone = "west"  # type: ignore[misc]
    assert region == models.TargetRegion(cluster="east", zone="east-1")
    assert hash(region) == hash(models.TargetRegion("east", "east-1"))
    assert dataclasses.replace(region, zone=None) == models.TargetRegion("east")
    deployment = models.Deployment(id="a", definition_id="d", target_regions=(region,))
    assert pickle.loads(pickle.dumps(deployment)) == deployment
    assert vars(models.SourceLocation("f.yaml")) == {"file": "f.yaml", "line": 1, "column": 1}


def test_a_model_it_cannot_build_the_same_way_is_refused():
    with pytest.raises(TypeError, match="__post_init__"):

        @quick_init
        @dataclass(frozen=True)
        class Checked:
            value: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="plain fields"):

        @quick_init
        @dataclass(frozen=True)
        class Derived:
            value: int
            doubled: int = field(init=False, default=0)
