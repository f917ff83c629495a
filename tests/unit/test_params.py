"""Config fields that are parameters: one default, range and description, checked the same in Python and ROS."""
from dataclasses import dataclass, replace

import pytest

from nvb_perception.errors import ConfigError
from nvb_perception.params import Param, param, parameters, validate
from nvb_perception.pose2d.config import PoseConfig


@dataclass(frozen=True)
class Demo:
    rate: float = param(1.0, 'Frames per second', low=0.0, high=100.0)
    count: int = param(3, 'How many', low=1, high=10)
    mode: str = param('a', 'Which mode', choices=('a', 'b'), read_only=True)
    runtimes: tuple[str, ...] = param(('x', 'y'), 'Runtimes in order', choices=('x', 'y', 'z'))
    flag: bool = param(False, 'On or off')
    note: str = 'not a parameter'

    def __post_init__(self):
        validate(self)


def test_parameters_lists_only_param_fields_in_order():
    assert [name for name, _, _ in parameters(Demo)] == ['rate', 'count', 'mode', 'runtimes', 'flag']
    name, default, spec = parameters(Demo)[2]
    assert (default, spec) == ('a', Param('Which mode', choices=('a', 'b'), read_only=True))


def test_validate_normalises_ints_to_floats_and_lists_to_tuples():
    demo = Demo(rate=2, runtimes=['z'])
    assert demo.rate == 2.0 and isinstance(demo.rate, float) and demo.runtimes == ('z',)


@pytest.mark.parametrize('changes, text', [
    ({'rate': 101.0}, 'rate must be a number in [0, 100], got 101.0'),
    ({'count': 0}, 'count must be an integer in [1, 10], got 0'),
    ({'count': 2.5}, 'count must be an integer'),
    ({'count': True}, 'count must be an integer'),
    ({'mode': 'c'}, "mode='c' is invalid; must be one of ['a', 'b']"),
    ({'runtimes': ()}, 'runtimes must be a non-empty list'),
    ({'runtimes': ('x', 'w')}, "runtimes=('x', 'w') is invalid"),
    ({'flag': 1}, 'flag must be true or false'),
])
def test_bad_values_name_the_field_value_and_rule(changes, text):
    with pytest.raises(ConfigError) as error:
        replace(Demo(), **changes)
    assert text in str(error.value)


def test_a_mutable_default_is_refused():
    with pytest.raises(TypeError):
        param([1, 2], 'a list')


def test_pose_config_declares_every_setting_once():
    names = [name for name, _, _ in parameters(PoseConfig)]
    assert 'max_people' in names and 'threads' in names and len(names) == len(set(names))
    assert all(spec.description for _, _, spec in parameters(PoseConfig))
    read_only = {name for name, _, spec in parameters(PoseConfig) if spec.read_only}
    assert read_only == {'model_dir', 'landmark_variant', 'prefer', 'threads'}     # the models stay open
    assert {name: spec.name for name, _, spec in parameters(PoseConfig) if spec.name} == {'prefer': 'backends'}
