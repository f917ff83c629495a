"""ROS parameters from the stages' config dataclasses: declared with descriptors, changed live through a callback.

    config = declare_config(self, PoseConfig)                        # every param() field, with its descriptor
    self.live = LiveConfig(self, config, self.estimator.reconfigure)  # `ros2 param set` -> validated, applied

A value that breaks the config at start raises ConfigError (the node exits 2 with one line); a live change that
breaks it is refused with the reason and nothing changes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.parameter import Parameter

from nvb_perception.errors import ConfigError
from nvb_perception.params import Param, check_value, parameters


def descriptor(default, spec: Param) -> ParameterDescriptor:
    """The ParameterDescriptor of one parameter: description, range or allowed values, read-only."""
    # a float parameter also takes a whole number (rate:=0), as users type it; the value is stored as a float
    desc = ParameterDescriptor(description=spec.description, read_only=spec.read_only,
                               dynamic_typing=isinstance(default, float))
    if spec.choices:
        desc.additional_constraints = 'Must be one of: ' + ', '.join(map(str, spec.choices))
    scalar = not isinstance(default, (tuple, list))
    if spec.low is not None and scalar and isinstance(default, float):
        desc.floating_point_range = [FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high),
                                                        step=0.0)]
    elif spec.low is not None and scalar and isinstance(default, int) and not isinstance(default, bool):
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=1)]
    return desc


def declare(node, name, default, description, *, low=None, high=None, choices=None, read_only=False):
    """Declare one parameter with a descriptor and return its checked value (ConfigError if invalid)."""
    spec = Param(description, low, high, tuple(choices or ()), read_only)
    ros_default = list(default) if isinstance(default, tuple) else default
    try:
        value = node.declare_parameter(name, ros_default, descriptor(default, spec)).value
    except (InvalidParameterTypeException, InvalidParameterValueException) as error:
        raise ConfigError(f'parameter {name}: {error}') from None      # a user's value, not a bug: one line
    checked = check_value(f'parameter {name}', value, default, spec)
    if isinstance(default, float) and isinstance(value, int):
        node.set_parameters([Parameter(name, Parameter.Type.DOUBLE, checked)])
    return checked


def declare_config(node, config_cls, prefix: str = '', **defaults):
    """Declare every parameter field of `config_cls` (named prefix + field) and build the config from the values.

    `defaults` replaces a field's default for this node only (e.g. the model folder resolved at start).
    """
    values = {name: declare(node, prefix + (spec.name or name), defaults.get(name, default), spec.description,
                            low=spec.low, high=spec.high, choices=spec.choices, read_only=spec.read_only)
              for name, default, spec in parameters(config_cls)}
    try:
        return config_cls(**values)
    except (ConfigError, ValueError) as error:
        raise ConfigError(f'{config_cls.__name__}: {error}') from None


class LiveConfig:
    """A config that follows `ros2 param set`: the whole new config is validated, then applied, or refused."""

    def __init__(self, node, config, apply: Callable | None = None, prefix: str = ''):
        self.config = config
        self._apply = apply
        self._prefix = prefix
        # parameter name -> field name, for the fields that may change while running
        self._live = {spec.name or name: name for name, _, spec in parameters(type(config)) if not spec.read_only}
        node.add_on_set_parameters_callback(self._on_set)

    def _on_set(self, params: list[Parameter]) -> SetParametersResult:
        changes = {}
        for p in params:
            name = p.name[len(self._prefix):] if p.name.startswith(self._prefix) else None
            if name in self._live:
                changes[self._live[name]] = p.value
        if not changes:
            return SetParametersResult(successful=True)
        try:
            new = replace(self.config, **changes)       # the config's own checks run here
            if self._apply is not None:
                self._apply(new)
        except (ConfigError, ValueError, TypeError) as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.config = new
        return SetParametersResult(successful=True)
