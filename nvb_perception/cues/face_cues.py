"""Face cues of one person-frame as Evidence: expressions, the PSPI-like pain proxy, gaze aversion.

Blendshape values are taken over the person's baseline (`base(name)` returns it); cited inputs are
'bs.<blendshape>' (the raw score), 'gaze.yaw_deg'/'gaze.pitch_deg', 'face.presence', 'base.<name>'.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from nvb_perception.cues.definitions import CueConfig
from nvb_perception.cues.events import Evidence

EXPRESSIONS = {  # cue -> blendshapes averaged (left/right pairs)
    'smile': ('mouthSmileLeft', 'mouthSmileRight'),
    'brow_lowering': ('browDownLeft', 'browDownRight'),
    'eye_closure': ('eyeBlinkLeft', 'eyeBlinkRight'),
    'jaw_open': ('jawOpen',),
}
PSPI_TERMS = {  # FACS action unit -> blendshapes (averaged)
    'AU4': ('browDownLeft', 'browDownRight'),
    'AU6': ('cheekSquintLeft', 'cheekSquintRight'),
    'AU7': ('eyeSquintLeft', 'eyeSquintRight'),
    'AU9': ('noseSneerLeft', 'noseSneerRight'),
    'AU10': ('mouthUpperUpLeft', 'mouthUpperUpRight'),
    'AU43': ('eyeBlinkLeft', 'eyeBlinkRight'),
}
FACS_MAX = 5.0                     # FACS intensities A-E as 1-5: a blendshape score of 1 counts as 5


def over_baseline(face, names: tuple[str, ...], base: Callable[[str], float]) -> tuple[float, tuple]:
    """(mean of `names` minus the mean of their baselines, cited items)."""
    raw = [face.blendshape(n) for n in names]
    b = [base(n) for n in names]
    items = tuple((f'bs.{n}', v) for n, v in zip(names, raw))
    return sum(raw) / len(raw) - sum(b) / len(b), items + tuple((f'base.{n}', v) for n, v in zip(names, b))


def expression(cue: str, face, base: Callable[[str], float]) -> Evidence:
    """Smile / brow lowering / eye closure / jaw open over baseline."""
    if face is None:
        return Evidence(math.nan)
    names = EXPRESSIONS[cue]
    value, items = over_baseline(face, names, base)
    raw = '/'.join(f'{face.blendshape(n):.2f}' for n in names)
    return Evidence(value, face.presence, (('face.presence', face.presence),) + items,
                    f'{"/".join(names)} {raw}, {value:+.2f} over baseline')


def pain_proxy(face, base: Callable[[str], float], cfg: CueConfig) -> Evidence:
    """PSPI-like score over baseline: 5 (AU4 + max(AU6, AU7) + max(AU9, AU10)) + AU43 (see definitions)."""
    if face is None:
        return Evidence(math.nan)
    raw = {k: over_baseline(face, names, base)[0] for k, names in PSPI_TERMS.items()}
    if not all(math.isfinite(v) for v in raw.values()):
        return Evidence(math.nan)                     # baselines still being learned
    au = {k: max(0.0, v) for k, v in raw.items()}
    smile = over_baseline(face, EXPRESSIONS['smile'], base)[0]
    suppressed = smile >= cfg.pspi_smile_suppression
    au6, au10 = (0.0, 0.0) if suppressed else (au['AU6'], au['AU10'])
    closed = 1.0 if face_closed(face, cfg) else 0.0
    score = FACS_MAX * (au['AU4'] + max(au6, au['AU7']) + max(au['AU9'], au10)) + closed
    used = ['AU4', 'AU7', 'AU9'] + ([] if suppressed else ['AU6', 'AU10'])
    items = [('face.presence', face.presence)]
    for k in used:
        if au[k] > 0:
            items += [(f'bs.{n}', face.blendshape(n)) for n in PSPI_TERMS[k]]
    if closed:
        items += [(f'bs.{n}', face.blendshape(n)) for n in PSPI_TERMS['AU43']]
    items += [(f'feat.{k}_0_5', FACS_MAX * au[k]) for k in used] + [('feat.pspi_proxy', score)]
    text = (f'PSPI proxy {score:.1f} = 5 x [AU4 {au["AU4"]:.2f} + max(AU6 {au6:.2f}, AU7 {au["AU7"]:.2f}) + '
            f'max(AU9 {au["AU9"]:.2f}, AU10 {au10:.2f})] + AU43 {closed:.0f}')
    if suppressed:
        text += f' (AU6/AU10 dropped: smiling {smile:+.2f})'
        items.append(('feat.smile_suppression', smile))
    return Evidence(score, face.presence, tuple(items), text)


def face_closed(face, cfg: CueConfig) -> bool:
    """Eyes closed now (eyeBlink mean past the blink threshold)."""
    return (face.blendshape('eyeBlinkLeft') + face.blendshape('eyeBlinkRight')) / 2 >= cfg.blink_closed


def gaze(face, base_yaw: float, base_pitch: float) -> Evidence:
    """Gaze deviation from the person's baseline direction, degrees."""
    if face is None:
        return Evidence(math.nan)
    dy, dp = face.gaze_yaw_deg - base_yaw, face.gaze_pitch_deg - base_pitch
    value = math.hypot(dy, dp)
    items = (('face.presence', face.presence), ('gaze.yaw_deg', face.gaze_yaw_deg),
             ('gaze.pitch_deg', face.gaze_pitch_deg), ('base.gaze_yaw_deg', base_yaw),
             ('base.gaze_pitch_deg', base_pitch))
    return Evidence(value, face.presence, items, f'gaze {dy:+.0f} deg yaw, {dp:+.0f} deg pitch from baseline')
