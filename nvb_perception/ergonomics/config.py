"""Settings of the ergonomic risk stage and of risk_node: each field is also a node parameter (nvb_perception.params).

Inputs the camera cannot see (load, coupling, support) are settings; every score lists what was assumed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from nvb_perception.errors import ConfigError
from nvb_perception.params import param, validate

from .assess import SIDE_CHOICES
from .reba import COUPLINGS, RebaInputs
from .rula import LOAD_PATTERNS, RulaInputs

METHODS = ('RULA', 'REBA')


@dataclass(frozen=True)
class RiskConfig:
    """Which methods score each person, and the inputs they cannot observe."""

    methods: tuple[str, ...] = param(METHODS, 'Methods to compute (RULA, REBA)', choices=METHODS, read_only=True)
    side: str = param('worst', 'Arm side reported', choices=SIDE_CHOICES)
    load_kg: float = param(0.0, 'Load or force handled (not visible to the camera)', low=0.0, high=1000.0)
    load_pattern: str = param('intermittent', 'RULA load pattern', choices=LOAD_PATTERNS)
    coupling: str = param('good', 'REBA hand coupling', choices=COUPLINGS)
    shock: bool = param(False, 'Shocks or rapid build-up of force')
    arm_supported: bool = param(False, 'Arm supported or person leaning')
    seated: bool = param(False, 'The person works seated')
    up: tuple[float, ...] = param((0.0, -1.0, 0.0), 'World up direction in the skeleton frame (camera optical '
                                  'frame: -y for a level camera)')

    def __post_init__(self):
        if isinstance(self.methods, str):
            object.__setattr__(self, 'methods', (self.methods,))
        validate(self)
        if len(self.up) != 3 or not all(map(math.isfinite, self.up)) or math.hypot(*self.up) < 1e-6:
            raise ConfigError(f'parameter up={list(self.up)} must be a non-zero 3-vector')
        for method in self.methods:
            self.inputs(method)          # the method's own checks, at start and on every live change

    def inputs(self, method: str) -> RulaInputs | RebaInputs:
        """The unobservable inputs of one method (ValueError if they do not fit together)."""
        if method == 'RULA':
            return RulaInputs(load_kg=self.load_kg, load_pattern=self.load_pattern, shock=self.shock,
                              arm_supported=self.arm_supported, seated=self.seated)
        return RebaInputs(load_kg=self.load_kg, shock=self.shock, coupling=self.coupling,
                          arm_supported=self.arm_supported, seated=self.seated)
