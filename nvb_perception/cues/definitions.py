"""What each non-verbal cue means, and the thresholds that decide it (frozen config dataclasses).

    config = CueConfig()                                   # defaults below
    config = CueConfig.from_dict(yaml.safe_load(...)['cues'])   # per-deployment overrides, unknown keys rejected
    DEFINITIONS['smile'].text                              # the written definition shown in docs and explanations

Every cue turns one per-frame *value* (its unit in `CueDefinition.unit`) into events with a Hysteresis:
an event starts when the value reaches `on` and stays there for `min_duration_s` (the start is dated
back to the first frame at `on`), and ends when the value passes `off` for `min_gap_s` (or the input is
missing for `max_missing_s`). `on > off` means "high values are the cue", `on < off` the opposite.
Confidence per frame = reliability of the inputs (joint visibility, face/hand presence) x margin, where
margin is 0.5 at `on`, 1.0 at twice the on-off distance past `on`, 0 at `off`; an event's confidence is
the mean over its frames. Values relative to a baseline are `value - baseline` of that person (baseline.py).
These are conventions for decision support, not clinical diagnoses; tune them per deployment.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nvb_perception.errors import ConfigError
from nvb_perception.params import param, validate


@dataclass(frozen=True)
class Hysteresis:
    """Start/stop thresholds and durations of one cue (units: the cue's value; seconds)."""

    on: float = param(1.0, 'Value that starts the cue')
    off: float = param(0.5, 'Value past which it ends (below `on` for a rising cue, above for a falling one)')
    min_duration_s: float = param(0.3, 'The value must hold at `on` this long before an event starts (s)',
                                  low=0.0, high=3600.0)
    min_gap_s: float = param(0.3, 'The value must stay past `off` this long before the event ends (s)',
                             low=0.0, high=3600.0)
    max_missing_s: float = param(1.0, 'Inputs missing longer than this end the event (s)', low=0.0, high=3600.0)

    def __post_init__(self):
        validate(self)
        if self.on == self.off:
            raise ConfigError(f'hysteresis on and off must differ, got {self.on}')

    @property
    def rising(self) -> bool:
        """True when high values are the cue."""
        return self.on > self.off

    def margin(self, value: float) -> float:
        """[0, 1]: 0 at `off`, 0.5 at `on`, 1 at twice the on-off distance past `on`."""
        return min(1.0, max(0.0, 0.5 + 0.5 * (value - self.on) / (self.on - self.off)))


@dataclass(frozen=True)
class CueDefinition:
    """The written definition of one cue."""

    name: str
    text: str
    unit: str                      # unit of the value the hysteresis applies to
    inputs: str                    # what it needs: 'body2d', 'body3d', 'face', 'hands'


def _h(on, off, dur=0.3, gap=0.3, missing=1.0):
    return field(default_factory=lambda: Hysteresis(on, off, dur, gap, missing))


@dataclass(frozen=True)
class CueConfig:
    """Thresholds of every cue (see DEFINITIONS for the units), plus feature parameters."""

    self_touch_face: Hysteresis = _h(1.0, 1.5, 0.3, 0.3)      # ratio: gap / allowed gap (<= 1 = touching)
    self_touch_body: Hysteresis = _h(1.0, 1.5, 0.5, 0.3)
    self_touch_hands: Hysteresis = _h(1.0, 1.5, 0.3, 0.3)
    arm_crossing: Hysteresis = _h(0.15, 0.05, 0.5, 0.3)       # shoulder widths each wrist crossed the midline
    fidgeting: Hysteresis = _h(5.0, 3.5, 1.0, 0.5)            # peak / noise floor of 1.5-5 Hz limb motion
    lean_forward: Hysteresis = _h(15.0, 8.0, 0.5, 0.3)        # deg of torso pitch over baseline
    lean_back: Hysteresis = _h(-10.0, -5.0, 0.5, 0.3)
    posture_open: Hysteresis = _h(35.0, 20.0, 0.5, 0.3)       # deg of arm opening over baseline
    posture_closed: Hysteresis = _h(-20.0, -10.0, 0.5, 0.3)
    head_nod: Hysteresis = _h(1.0, 0.5, 0.0, 0.4)            # oscillation score (1 = a qualifying nod)
    head_shake: Hysteresis = _h(1.0, 0.5, 0.0, 0.4)
    gaze_aversion: Hysteresis = _h(15.0, 10.0, 0.5, 0.3)      # deg of gaze away from the baseline direction
    smile: Hysteresis = _h(0.35, 0.2, 0.3, 0.3)               # blendshape score over baseline
    brow_lowering: Hysteresis = _h(0.25, 0.15, 0.3, 0.3)
    eye_closure: Hysteresis = _h(0.55, 0.4, 0.6, 0.2)         # eyeBlink mean over baseline, held longer than a blink
    jaw_open: Hysteresis = _h(0.3, 0.15, 0.5, 0.3)
    pain_expression: Hysteresis = _h(3.0, 2.0, 0.5, 0.3)      # PSPI-proxy points (0-16) over baseline
    blink_rate_high: Hysteresis = _h(12.0, 8.0, 2.0, 3.0, 30.0)  # blinks/min over baseline
    composite: Hysteresis = _h(1.0, 0.5, 0.3, 0.3)            # all constituent cues active (1) or not (0)
    # feature parameters (the read-only ones are built into a person's filters when the track starts)
    face_gap_torso: float = param(0.10, 'Allowed 2D gap hand -> face outline (torso lengths)', low=0.0, high=10.0)
    head_dist_m: float = param(0.25, 'Allowed 3D wrist -> head-centre distance (m)', low=0.0, high=10.0)
    body_gap_torso: float = param(0.06, 'Allowed 2D gap hand -> torso or other arm (torso lengths)', low=0.0,
                                  high=10.0)
    body_depth_m: float = param(0.15, '3D: the wrist is within this depth of the torso or arm it touches (m)',
                                low=0.0, high=10.0)
    hands_gap_torso: float = param(0.08, 'Allowed 2D gap hand -> other hand (torso lengths)', low=0.0, high=10.0)
    hands_dist_m: float = param(0.15, 'Allowed 3D wrist -> wrist distance (m)', low=0.0, high=10.0)
    joint_hand_margin_torso: float = param(0.06, 'Extra allowed 2D gap per hand seen only as joints (no hand '
                                                 'model; torso lengths)', low=0.0, high=10.0)
    gap_2d_veto_torso: float = param(0.5, 'With a 3D skeleton, 3D decides unless the 2D gap exceeds this (torso '
                                          'lengths)', low=0.0, high=10.0)
    fidget_band_hz: tuple[float, float] = param((1.5, 5.0), 'Fidget frequency band (Hz): below it is posture '
                                                'change and gesturing', low=0.01, high=100.0, read_only=True)
    fidget_window_s: float = param(3.0, 'Fidget analysis window (s)', low=0.1, high=60.0, read_only=True)
    fidget_min_torso: float = param(0.05, 'Periodic amplitude below this is keypoint jitter (torso lengths)',
                                    low=0.0, high=10.0)
    fidget_max_torso: float = param(0.25, 'Above this it is gesturing or moving, not fidgeting (torso lengths)',
                                    low=0.0, high=10.0)
    fidget_max_body_torso: float = param(0.5, 'The mid-hip may move at most this much over the window (torso '
                                              'lengths)', low=0.0, high=10.0)
    nod_min_amplitude_deg: float = param(4.0, 'Least head swing of a nod or shake, peak to peak (deg)', low=0.0,
                                         high=90.0, read_only=True)
    nod_half_period_s: tuple[float, float] = param((0.08, 0.8), 'Shortest and longest head swing (s)', low=0.0,
                                                   high=10.0, read_only=True)
    nod_min_swings: int = param(2, 'Head swings that make a nod or shake', low=1, high=100)
    nod_cross_ratio: float = param(0.7, 'The other head axis may swing at most this fraction as much', low=0.0,
                                   high=10.0)
    blink_closed: float = param(0.5, 'eyeBlink mean above this: eyes closed', low=0.0, high=1.0, read_only=True)
    blink_open: float = param(0.35, 'eyeBlink mean below this: open again', low=0.0, high=1.0, read_only=True)
    blink_max_s: float = param(0.5, 'Closures longer than this are not blinks (s)', low=0.0, high=10.0,
                               read_only=True)
    blink_window_s: float = param(30.0, 'Blink rate window (s)', low=1.0, high=3600.0, read_only=True)
    pspi_smile_suppression: float = param(0.3, 'Smile (over baseline) above which the pain proxy drops AU6/AU10',
                                          low=0.0, high=1.0)
    composites: tuple[tuple[str, tuple[str, ...]], ...] = (
        ('self_touch_gaze_aversion', ('self_touch_face|self_touch_body|self_touch_hands', 'gaze_aversion')),
        ('closed_posture_gaze_aversion', ('posture_closed|arm_crossing', 'gaze_aversion')),
        ('pain_with_guarding', ('pain_expression', 'self_touch_body|self_touch_face')),
    )

    def __post_init__(self):
        validate(self)
        lo, hi = self.fidget_band_hz
        if not 0 < lo < hi:
            raise ConfigError(f'fidget_band_hz must be (low, high) with 0 < low < high, got {self.fidget_band_hz}')
        if self.nod_min_swings < 1:
            raise ConfigError(f'nod_min_swings must be >= 1, got {self.nod_min_swings}')
        known = {d.name for d in DEFINITIONS.values()}
        for name, parts in self.composites:
            bad = [p for part in parts for p in part.split('|') if p not in known]
            if bad or not parts:
                raise ConfigError(f'composite {name!r}: unknown cues {bad}; known: {sorted(known)}')

    def hysteresis(self, cue: str) -> Hysteresis:
        """Thresholds of a cue by name (composites share `composite`)."""
        return getattr(self, cue) if cue in DEFINITIONS else self.composite

    @classmethod
    def from_dict(cls, values: dict) -> CueConfig:
        """Build from a plain dict (YAML): hysteresis entries as {on, off, min_duration_s, ...}.

        Raises ConfigError on unknown keys or bad values.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f'unknown cue config keys {unknown}; known: {sorted(fields)}')
        kwargs = {}
        for key, value in values.items():
            if key in DEFINITIONS or key == 'composite':
                base = getattr(cls(), key)
                extra = sorted(set(value) - {f.name for f in dataclasses.fields(Hysteresis)})
                if extra:
                    raise ConfigError(f'{key}: unknown hysteresis keys {extra}')
                kwargs[key] = dataclasses.replace(base, **{k: float(v) for k, v in value.items()})
            elif key == 'composites':
                kwargs[key] = tuple((str(c['name']), tuple(str(p) for p in c['all'])) for c in value)
            elif isinstance(getattr(cls(), key), tuple):
                kwargs[key] = tuple(value)
            else:
                kwargs[key] = type(getattr(cls(), key))(value)
        return cls(**kwargs)


_D = CueDefinition
DEFINITIONS = {d.name: d for d in (
    _D('self_touch_face', 'A hand touches the face or head: the hand (its landmarks, else the wrist, index, '
       'pinky and thumb joints, with joint_hand_margin_torso more allowance) is within face_gap_torso torso '
       'lengths of the face outline in the image; when a 3D skeleton is given, the wrist is within head_dist_m '
       'of the head centre instead, unless the image shows a gap of more than gap_2d_veto_torso.',
       'ratio of the gap to the allowed gap', 'body2d (+body3d, face, hands)'),
    _D('self_touch_body', 'A hand rests on or rubs the torso (above the hips) or the other arm: the hand is '
       'within body_gap_torso torso lengths of the shoulder-hip outline or of the other upper arm/forearm, '
       'and (3D) at most body_depth_m in front of or behind it.', 'ratio of the gap to the allowed gap',
       'body2d (+body3d, hands)'),
    _D('self_touch_hands', 'The hands touch each other (clasping, rubbing, wringing): hand-to-hand gap within '
       'hands_gap_torso torso lengths, or (3D, unless the image gap exceeds gap_2d_veto_torso) wrists within '
       'hands_dist_m.', 'ratio of the gap to the allowed gap',
       'body2d (+body3d, hands)'),
    _D('arm_crossing', 'Arms folded across the chest: each wrist is past the body midline on the other side '
       '(by at least `on` shoulder widths) between shoulder and hip height.', 'shoulder widths', 'body2d'),
    _D('fidgeting', 'Sustained small repetitive movement of a hand or foot: over fidget_window_s, the strongest '
       '1.5-5 Hz component of its motion relative to the mid-hip is `on` times the broadband noise floor of the '
       'same spectrum (keypoint jitter is white; a fidget is one frequency), with an amplitude between '
       'fidget_min_torso and fidget_max_torso torso lengths (larger is gesturing) while the body stays in place '
       '(fidget_max_body_torso). Starts half a window before the periodic component was detected.',
       'peak-to-noise-floor ratio', 'body2d'),
    _D('lean_forward', 'The trunk leans forward: the pelvis-to-thorax vector pitches towards the person\'s front '
       'by `on` degrees more than the baseline posture (3D skeleton; 2D only for side views).',
       'degrees over baseline', 'body3d or body2d side view'),
    _D('lean_back', 'The trunk leans back (away from the front) by `on` degrees past the baseline posture.',
       'degrees over baseline', 'body3d or body2d side view'),
    _D('posture_open', 'Open posture: the arms move away from the body (mean signed angle between the '
       'shoulder-to-wrist vector and the trunk, outward positive) by `on` degrees more than the baseline.',
       'degrees over baseline', 'body2d or body3d'),
    _D('posture_closed', 'Closed posture: the arms are held in across the body (mean signed arm angle `on` '
       'degrees below the baseline: wrists inside the shoulders, towards or past the midline).',
       'degrees over baseline', 'body2d or body3d'),
    _D('head_nod', 'A nod: at least nod_min_swings alternating up/down head pitch swings of nod_min_amplitude_deg '
       'or more, each lasting nod_half_period_s, with yaw swinging less (nod_cross_ratio). Starts at the first '
       'swing.', 'oscillation score', 'face (or body2d head joints)'),
    _D('head_shake', 'A head shake: the same oscillation test on head yaw, with pitch swinging less.',
       'oscillation score', 'face (or body2d head joints)'),
    _D('gaze_aversion', 'Gaze away from the usual direction: head pose plus eye-in-head direction from the '
       'irises deviates from the person\'s baseline gaze by `on` degrees (blinks held over).',
       'degrees from baseline', 'face'),
    _D('smile', 'Smile: mean of mouthSmileLeft/Right above the person\'s baseline by `on`.',
       'blendshape score over baseline', 'face'),
    _D('brow_lowering', 'Brow lowering (AU4-like): mean of browDownLeft/Right above baseline by `on`.',
       'blendshape score over baseline', 'face'),
    _D('eye_closure', 'Eyes held closed: mean of eyeBlinkLeft/Right above baseline by `on` for longer than a blink.',
       'blendshape score over baseline', 'face'),
    _D('jaw_open', 'Mouth held open: jawOpen above baseline by `on` for min_duration_s (longer than speech '
       'syllables).', 'blendshape score over baseline', 'face'),
    _D('pain_expression', 'Pain-expression proxy in the spirit of the PSPI (Prkachin and Solomon): '
       '5 x [AU4 + max(AU6, AU7) + max(AU9, AU10)] + AU43, with AU4 = browDown, AU6 = cheekSquint, '
       'AU7 = eyeSquint, AU9 = noseSneer, AU10 = mouthUpperUp (each over the person\'s baseline, in [0, 1] '
       'scaled to the 0-5 FACS intensity range) and AU43 = 1 when the eyes are closed; 0-16 points. While '
       'smiling (over pspi_smile_suppression) AU6 and AU10 are dropped: a Duchenne smile raises both. '
       'A proxy from blendshapes, not a FACS coding.', 'PSPI-proxy points over baseline', 'face'),
    _D('blink_rate_high', 'Blink rate above the person\'s baseline rate by `on` blinks per minute (blinks: '
       'eyeBlink mean closing past blink_closed and reopening past blink_open within blink_max_s; rate over '
       'blink_window_s). Starts at the first blink of the faster run.', 'blinks per minute over baseline', 'face'),
)}


def composite_rules(composites) -> tuple[str, ...]:
    """CueConfig.composites as parameter strings: 'name=partA+partB', a part 'a|b' is on when any of a, b is."""
    return tuple(f'{name}={"+".join(parts)}' for name, parts in composites)


@dataclass(frozen=True)
class CompositeRules:
    """The composite cues as one parameter (a list of strings); each track builds its rules when it starts."""

    composites: tuple[str, ...] = param(composite_rules(CueConfig.composites), 'Composite cues: name=partA+partB, '
                                        'a part "a|b" is on when any of a, b is', read_only=True)

    def __post_init__(self):
        validate(self)
        bad = [r for r in self.composites if r.count('=') != 1 or not all(r.split('=')[1].split('+'))]
        if bad:
            raise ConfigError(f'composites {bad} are not name=part+part')

    def pairs(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The rules in CueConfig.composites form."""
        return tuple((r.split('=')[0], tuple(r.split('=')[1].split('+'))) for r in self.composites)
