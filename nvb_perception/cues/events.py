"""Cue events per person: a hysteresis state machine per cue, and composite cues as rules over cues.

    events = CueEvents('smile', track_id=3, hysteresis=config.smile)
    cue = events.update(t_ns, Evidence(value=0.41, reliability=0.98, items=(('bs.mouthSmileLeft', 0.52), ...),
                                      text='mouthSmileLeft/Right 0.52/0.49 over baseline 0.08'))
    # cue: types.Cue while the event is active (active=True, end_ns=0) and once when it ends (active=False)

States: idle -> pending (value at `on`; the start is this frame, or the detector's earlier `onset_ns`) ->
active once pending lasted `min_duration_s` -> ends when the value stayed past `off` for `min_gap_s` (end =
the first frame past `off`) or the inputs were missing for `max_missing_s` (end = the last observed frame).
Between `on` and `off` an active event continues and a pending one is dropped.
Every published cue carries the evidence of its frame (the inputs and their values, the thresholds, the
baseline) and one sentence of explanation; the final (ended) message carries the evidence of the event's
strongest frame. Composite rules (CompositeRule) turn 'all parts active' into a value of 1 (else 0) and run
through the same state machine, citing the constituent cues as their evidence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from nvb_perception.cues.definitions import DEFINITIONS, Hysteresis
from nvb_perception.types import Cue


@dataclass(frozen=True)
class Evidence:
    """One frame's measurement for one cue."""

    value: float                                   # NaN = not observable this frame
    reliability: float = 1.0                       # [0, 1] from the inputs' confidences
    items: tuple[tuple[str, float], ...] = ()      # what drove it: 'bs.<blendshape>', 'kp2d.<joint>', 'feat.<..>'
    text: str = ''                                 # the measurement in words
    onset_ns: int | None = None                    # the detector's own start time (e.g. a nod's first swing)


class CueEvents:
    """Hysteresis state machine of one cue of one person (see the module docstring)."""

    def __init__(self, name: str, track_id: int, hysteresis: Hysteresis, unit: str = ''):
        self.name, self.track_id, self.h = name, int(track_id), hysteresis
        self.unit = unit or (DEFINITIONS[name].unit if name in DEFINITIONS else '')
        self.reset()

    def reset(self) -> None:
        self.state = 'idle'
        self.start_ns = 0
        self.off_since: int | None = None
        self.last_seen_ns: int | None = None
        self.conf_sum, self.frames = 0.0, 0
        self.peak: tuple[float, Evidence] | None = None
        self.last: Evidence | None = None

    @property
    def active(self) -> bool:
        return self.state == 'active'

    def _is_on(self, v: float) -> bool:
        return v >= self.h.on if self.h.rising else v <= self.h.on

    def _is_off(self, v: float) -> bool:
        return v < self.h.off if self.h.rising else v > self.h.off

    def update(self, t_ns: int, ev: Evidence) -> Cue | None:
        """Advance one frame; returns the Cue to publish (active, or just ended), else None."""
        v = ev.value
        if v is None or not math.isfinite(v):
            return self._missing(t_ns)
        self.last_seen_ns = t_ns
        if self.state == 'idle':
            if self._is_on(v):
                self.state, self.start_ns = 'pending', min(t_ns, ev.onset_ns if ev.onset_ns is not None else t_ns)
                self.conf_sum, self.frames, self.peak = 0.0, 0, None
            else:
                return None
        if self.state == 'pending':
            if not self._is_on(v):
                self.state = 'idle'
                return None
            if (t_ns - self.start_ns) < self.h.min_duration_s * 1e9:
                self._accumulate(v, ev)
                return None
            self.state, self.off_since = 'active', None
        if self._is_off(v):
            self.off_since = t_ns if self.off_since is None else self.off_since
            if t_ns - self.off_since >= self.h.min_gap_s * 1e9:
                return self._end(self.off_since, 'its value passed the end threshold')
        else:
            self.off_since = None
        self._accumulate(v, ev)
        return self._cue(t_ns, ev, active=True)

    def _accumulate(self, v: float, ev: Evidence) -> None:
        margin = self.h.margin(v)
        self.conf_sum += margin * max(0.0, min(1.0, ev.reliability))
        self.frames += 1
        if self.peak is None or margin > self.peak[0]:
            self.peak = (margin, ev)
        self.last = ev

    def _missing(self, t_ns: int) -> Cue | None:
        if self.state == 'pending':
            self.state = 'idle'
        if self.state != 'active':
            return None
        seen = self.last_seen_ns if self.last_seen_ns is not None else t_ns
        if t_ns - seen > self.h.max_missing_s * 1e9:
            return self._end(seen, 'its inputs were no longer observed')
        return self._cue(t_ns, self.last, active=True)

    def _end(self, end_ns: int, why: str) -> Cue:
        ev = self.peak[1] if self.peak else self.last
        cue = self._cue(end_ns, ev, active=False, why=why)
        self.reset()
        return cue

    def _cue(self, t_ns: int, ev: Evidence | None, active: bool, why: str = '') -> Cue:
        ev = ev or Evidence(math.nan)
        duration = max(0.0, (t_ns - self.start_ns) * 1e-9)
        conf = self.conf_sum / self.frames if self.frames else 0.0
        items = ev.items + (('thr.on', float(self.h.on)), ('thr.off', float(self.h.off)),
                            ('event.duration_s', duration))
        bound = 'at least' if self.h.rising else 'at most'
        text = (f'{self.name}: {ev.text} ({self.unit}: starts {bound} {self.h.on:g}, ends past {self.h.off:g}); '
                f'{"active" if active else "ended"} after {duration:.1f} s')
        if why:
            text += f' because {why}'
        return Cue(name=self.name, track_id=self.track_id, active=active, confidence=conf,
                   start_ns=int(self.start_ns), end_ns=0 if active else int(t_ns), evidence=items,
                   explanation=text)


@dataclass(frozen=True)
class CompositeRule:
    """A cue that is on while every part is on; a part 'a|b' is on when any of a, b is active."""

    name: str
    parts: tuple[str, ...]

    def evaluate(self, active: dict[str, float]) -> Evidence:
        """Evidence from the constituent cues' activity ({cue name: confidence} of the active ones)."""
        chosen, missing = [], []
        for part in self.parts:
            options = [(active[p], p) for p in part.split('|') if p in active]
            if options:
                chosen.append(max(options)[::-1])
            else:
                missing.append(part)
        items = tuple((f'cue.{n}', c) for n, c in chosen)
        if missing:
            return Evidence(0.0, 1.0, items, f'waiting for {", ".join(missing)}')
        return Evidence(1.0, min(c for _, c in chosen), items,
                        ' while '.join(f'{n} ({c:.2f})' for n, c in chosen))
