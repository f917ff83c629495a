"""cue_node's stage parameters (CueStageConfig with its baseline. and cues. parts, declared and live) and image input.

    params = CueParameters(node, stage_apply, model_dir=str(model_dir()))
    params.config                     # the whole CueStageConfig, as it is now

Names: the stage's fields (max_people, ...), baseline.<field>, cues.<feature field>, cues.composites and
cues.<cue>.<on|off|min_duration_s|min_gap_s|max_missing_s> for every cue and `composite`. Each part follows
`ros2 param set` through its own LiveConfig; the change is checked as a whole CueStageConfig and handed to
`apply` (the running stage), or refused with the reason and nothing changes. Read-only fields (models, and what
each track builds into its filters at start) are refused while the node runs.
"""
from __future__ import annotations

from dataclasses import fields, replace

from nvb_perception.cues.baseline import BaselineConfig
from nvb_perception.cues.definitions import DEFINITIONS, CompositeRules, CueConfig, Hysteresis
from nvb_perception.cues.stage import CueStageConfig
from nvb_perception.errors import ConfigError
from nvb_perception.params import parameters
from nvb_perception.ros.parameters import LiveConfig, declare, declare_config

HYSTERESIS = tuple(f.name for f in fields(CueConfig) if isinstance(getattr(CueConfig(), f.name), Hysteresis))


def declare_hysteresis(node, cue: str, default: Hysteresis) -> Hysteresis:
    """cues.<cue>.<field>, described with the cue's unit; defaults from CueConfig."""
    unit = DEFINITIONS[cue].unit if cue in DEFINITIONS else 'composite cues: 1 when all parts are active'
    values = {name: declare(node, f'cues.{cue}.{name}', getattr(default, name),
                            f'{cue}: {spec.description}' + (f' ({unit})' if name in ('on', 'off') else ''),
                            low=spec.low, high=spec.high, read_only=spec.read_only)
              for name, _, spec in parameters(Hysteresis)}
    try:
        return Hysteresis(**values)
    except ConfigError as error:
        raise ConfigError(f'cues.{cue}: {error}') from None


def _merge(current, new):
    """`current` with the parameter fields of `new` (a LiveConfig sees only its own part)."""
    return replace(current, **{name: getattr(new, name) for name, _, _ in parameters(type(new))})


class CueParameters:
    """Every stage parameter of cue_node, declared from the config fields and kept live."""

    def __init__(self, node, apply, use_image: bool = True, **defaults):
        stage = declare_config(node, CueStageConfig, **defaults)
        baseline = declare_config(node, BaselineConfig, prefix='baseline.')
        rules = declare_config(node, CompositeRules, prefix='cues.')
        features = declare_config(node, CueConfig, prefix='cues.')
        cues = replace(features, composites=rules.pairs(),
                       **{cue: declare_hysteresis(node, cue, getattr(features, cue)) for cue in HYSTERESIS})
        try:
            self.config = replace(stage, face=stage.face and use_image, hands=stage.hands and use_image,
                                  cues=cues, baseline=baseline)
        except ConfigError as error:
            raise ConfigError(f'cue parameters: {error}') from None
        self._apply = apply
        self.live = [LiveConfig(node, self.config, lambda c: self._set(_merge(self.config, c))),
                     LiveConfig(node, baseline, lambda b: self._set(replace(self.config, baseline=b)), 'baseline.'),
                     LiveConfig(node, cues, lambda c: self._set_cues(_merge(self.config.cues, c)), 'cues.')]
        self.live += [LiveConfig(node, getattr(cues, cue), self._cue_setter(cue), f'cues.{cue}.')
                      for cue in HYSTERESIS]

    def _cue_setter(self, cue: str):
        return lambda h: self._set_cues(replace(self.config.cues, **{cue: h}))

    def _set_cues(self, cues: CueConfig) -> None:
        self._set(replace(self.config, cues=cues))

    def _set(self, config: CueStageConfig) -> None:
        """Hand a checked config to the stage; an error leaves everything as it was (the change is refused)."""
        self._apply(config)
        self.config = config
