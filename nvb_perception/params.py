"""A stage's parameters, declared once: each config dataclass field carries its default, range and description.

    @dataclass(frozen=True)
    class PoseConfig:
        max_people: int = param(4, 'Most people tracked at once', low=1, high=32)

        def __post_init__(self):
            validate(self)

Nodes declare their ROS parameters from these fields (`ros/parameters.py`), the docs' parameter tables are
generated from them, and `validate` enforces the same type, range and choices in pure code. A field marked
`read_only` takes effect only when the node starts (models, runtimes, topics); every other one can be changed
while the node runs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from nvb_perception.errors import ConfigError


@dataclass(frozen=True)
class Param:
    """How one config field appears as a parameter."""

    description: str
    low: float | None = None           # inclusive range, for numbers
    high: float | None = None
    choices: tuple = ()                # allowed values (for a tuple field: of each element)
    read_only: bool = False            # only at start: refused while the node runs
    name: str = ''                     # the parameter's name where it differs from the field's


def param(default, description: str, *, low=None, high=None, choices: Sequence = (), read_only: bool = False,
          name: str = ''):
    """A dataclass field that is also a node parameter (see the module docstring); `name` renames the parameter."""
    if isinstance(default, list):
        raise TypeError('a parameter default must be immutable: use a tuple')
    return field(default=default, metadata={'param': Param(description, low, high, tuple(choices), read_only, name)})


def parameters(config_cls) -> list[tuple[str, object, Param]]:
    """(name, default, Param) of every parameter field of a config dataclass, in declaration order."""
    return [(f.name, f.default, f.metadata['param']) for f in fields(config_cls) if 'param' in f.metadata]


def check_value(name: str, value, default, spec: Param):
    """The value with the default's type (an int for a float, a list for a tuple); ConfigError if it is not valid."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, (tuple, list)):
        value = (value,) if isinstance(value, str) and isinstance(default, tuple) else value   # prefer='onnxruntime'
        ok = hasattr(value, '__len__') and not isinstance(value, (str, bytes)) and len(value) > 0
        value = type(default)(value) if ok else value       # ROS gives lists (or array.array for numbers)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f'{name} must be {_kind(default)}, got {value!r}')
    items = value if isinstance(default, (tuple, list)) else (value,)
    if spec.choices and any(v not in spec.choices for v in items):
        raise ConfigError(f'{name}={value!r} is invalid; must be one of {list(spec.choices)}')
    if spec.low is not None and not all(spec.low <= v <= spec.high for v in items):
        raise ConfigError(f'{name} must be {_kind(default)} in [{spec.low:g}, {spec.high:g}], got {value!r}')
    return value


def validate(config) -> None:
    """Check every parameter field of a frozen config; normalise ints to floats and lists to tuples."""
    for name, default, spec in parameters(type(config)):
        value = check_value(name, getattr(config, name), default, spec)
        if value is not getattr(config, name):
            object.__setattr__(config, name, value)


def _kind(default) -> str:
    if isinstance(default, bool):
        return 'true or false'
    if isinstance(default, (tuple, list)):
        return 'a non-empty list' + (f' of {_kind(default[0])}s' if default and not isinstance(default[0], str) else '')
    return {int: 'an integer', float: 'a number', str: 'a string'}.get(type(default), type(default).__name__)
