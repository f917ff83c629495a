"""Per-person cue logic on synthetic inputs, and the explanation test: removing the cited evidence removes the cue."""
import dataclasses

import numpy as np
import pytest

from nvb_perception.cues.baseline import BaselineConfig
from nvb_perception.cues.definitions import CueConfig
from nvb_perception.cues.person import PersonCues, PersonInput
from nvb_perception.datasets.cue_synthetic import blazepose_person, face_observation
from nvb_perception.skeleton import H36M, BlazePose
from nvb_perception.types import Skeleton3D

FPS = 30
NS = 1_000_000_000
FIXED = BaselineConfig(mode='fixed')         # population defaults: no calibration period in short tests
DERIVED = ('thr.', 'event.', 'feat.', 'base.')


def run(inputs, config=None, baseline=FIXED):
    person = PersonCues(1, config or CueConfig(), baseline)
    cues = []
    for i, inp in enumerate(inputs):
        cues += person.update(int(i * NS / FPS), inp)
    return cues


def active(cues, name):
    return [c for c in cues if c.name == name and c.active]


def body_frames(n=45, **kw):
    return [PersonInput(skeleton=blazepose_person(**kw)) for _ in range(n)]


def test_neutral_person_shows_no_cue():
    face = face_observation()
    cues = run([PersonInput(skeleton=blazepose_person(), face=face) for _ in range(90)])
    assert not [c for c in cues if c.active], sorted({c.name for c in cues})


@pytest.mark.parametrize('kw, cue', [
    (dict(left_wrist=(338, 118)), 'self_touch_face'),
    (dict(left_wrist=(325, 255), right_wrist=(318, 262)), 'self_touch_hands'),
    (dict(right_wrist=(315, 215)), 'self_touch_body'),
    (dict(left_wrist=(295, 225), right_wrist=(346, 232),
          overrides={BlazePose.LEFT_ELBOW: (370, 250), BlazePose.RIGHT_ELBOW: (270, 250)}), 'arm_crossing'),
    (dict(left_wrist=(470, 170), right_wrist=(170, 170)), 'posture_open'),
], ids=['face', 'hands', 'body', 'arm_crossing', 'open'])
def test_body_cues(kw, cue):
    cues = run(body_frames(**kw))
    assert active(cues, cue), sorted({c.name for c in cues})
    first = active(cues, cue)[0]
    assert first.start_ns == 0 and first.explanation and any(n.startswith('kp2d.') for n, _ in first.evidence)


def h36m_person(lean_deg=0.0, wrist_head=None):
    """A 3D H36M skeleton in the camera frame (x right, y down, z forward) facing the camera, 3 m away."""
    p = np.zeros((17, 3))
    p[H36M.PELVIS] = (0, 0, 3)
    p[H36M.LEFT_HIP], p[H36M.RIGHT_HIP] = (0.1, 0, 3), (-0.1, 0, 3)
    a = np.radians(lean_deg)
    up = np.array([0, -np.cos(a), -np.sin(a)])                    # forward lean: towards the camera (-z)
    p[H36M.SPINE], p[H36M.THORAX] = p[H36M.PELVIS] + 0.25 * up, p[H36M.PELVIS] + 0.5 * up
    p[H36M.NECK], p[H36M.HEAD] = p[H36M.THORAX] + 0.15 * up, p[H36M.THORAX] + 0.35 * up
    p[H36M.LEFT_SHOULDER], p[H36M.RIGHT_SHOULDER] = p[H36M.THORAX] + (0.18, 0, 0), p[H36M.THORAX] - (0.18, 0, 0)
    for side, s in (('LEFT', 1), ('RIGHT', -1)):
        p[H36M[f'{side}_ELBOW']] = p[H36M[f'{side}_SHOULDER']] + (0.02 * s, 0.28, 0)
        p[H36M[f'{side}_WRIST']] = p[H36M[f'{side}_SHOULDER']] + (0.03 * s, 0.55, 0)
        p[H36M[f'{side}_KNEE']] = p[H36M[f'{side}_HIP']] + (0, 0.45, 0)
        p[H36M[f'{side}_ANKLE']] = p[H36M[f'{side}_HIP']] + (0, 0.9, 0)
    if wrist_head is not None:
        p[H36M.LEFT_WRIST] = (p[H36M.HEAD] + p[H36M.NECK]) / 2 + (wrist_head, 0, 0)
    return Skeleton3D(p, np.ones(17), 'h36m17', 1, 1, root_relative=False)


def test_lean_from_3d_against_the_baseline():
    upright = [PersonInput(skeleton=blazepose_person(), skeleton3d=h36m_person(0)) for _ in range(4 * FPS)]
    lean = [PersonInput(skeleton=blazepose_person(), skeleton3d=h36m_person(25)) for _ in range(2 * FPS)]
    cues = run(upright + lean, baseline=BaselineConfig(window_s=2.0, sample_every_s=0.0))
    fwd = active(cues, 'lean_forward')
    assert fwd and abs(fwd[0].start_ns / NS - 4.0) < 0.1 and not active(cues, 'lean_back')
    assert dict(fwd[0].evidence)['feat.lean_deg'] == pytest.approx(25, abs=1)


def test_3d_decides_self_touch_when_given():
    near_2d = dict(left_wrist=(338, 118))                       # touching in the image ...
    far = [PersonInput(skeleton=blazepose_person(**near_2d), skeleton3d=h36m_person(wrist_head=0.45))] * 45
    assert not active(run(far), 'self_touch_face')             # ... but 0.45 m in front of the face in 3D
    near = [PersonInput(skeleton=blazepose_person(**near_2d), skeleton3d=h36m_person(wrist_head=0.12))] * 45
    cue = active(run(near), 'self_touch_face')[0]
    assert dict(cue.evidence)['feat.wrist_head_left_m'] == pytest.approx(0.12)


def test_fidgeting_is_periodic_small_motion():
    t = np.arange(0, 6, 1 / FPS)
    rng = np.random.default_rng(0)
    fidget = [PersonInput(skeleton=blazepose_person(right_wrist=(264 + 12 * np.sin(2 * np.pi * 3 * ti), 315),
                                                    shift=rng.normal(0, 0.5, 2))) for ti in t]
    cue = active(run(fidget), 'fidgeting')
    assert cue and 'right hand' in cue[0].explanation
    assert dict(cue[0].evidence)['feat.right_hand_hz'] == pytest.approx(3.0, abs=0.2)
    wave = [PersonInput(skeleton=blazepose_person(right_wrist=(264 + 120 * np.sin(2 * np.pi * 2 * ti), 315)))
            for ti in t]                                        # large: gesturing, not fidgeting
    assert not active(run(wave), 'fidgeting')


def face_frames(n=45, **kw):
    return [PersonInput(face=face_observation(**kw)) for _ in range(n)]


def test_expressions_and_pain_proxy():
    assert active(run(face_frames(smile=0.8)), 'smile')
    assert active(run(face_frames(blendshapes={'browDownLeft': 0.6, 'browDownRight': 0.6})), 'brow_lowering')
    assert active(run(face_frames(blendshapes={'jawOpen': 0.7})), 'jaw_open')
    pain = {'browDownLeft': 0.4, 'browDownRight': 0.4, 'eyeSquintLeft': 0.5, 'eyeSquintRight': 0.5,
            'noseSneerLeft': 0.3, 'noseSneerRight': 0.3}
    cue = active(run(face_frames(blendshapes=pain)), 'pain_expression')[0]
    assert dict(cue.evidence)['feat.pspi_proxy'] == pytest.approx(5 * (0.4 + 0.5 + 0.3))    # fixed baseline 0
    duchenne = {'cheekSquintLeft': 0.5, 'cheekSquintRight': 0.5, 'mouthUpperUpLeft': 0.5, 'mouthUpperUpRight': 0.5}
    smiling = run(face_frames(blendshapes=duchenne, smile=0.9))
    assert active(smiling, 'smile') and not active(smiling, 'pain_expression')   # AU6/AU10 dropped while smiling
    assert active(run(face_frames(blendshapes=duchenne)), 'pain_expression')     # the same AUs without a smile


def test_eye_closure_is_not_a_blink_and_blink_rate():
    closed = {'eyeBlinkLeft': 0.9, 'eyeBlinkRight': 0.9}
    blink = [PersonInput(face=face_observation(blendshapes=closed if i < 6 else {})) for i in range(30)]
    assert not active(run(blink), 'eye_closure')                 # 0.2 s: a blink
    assert active(run(face_frames(blendshapes=closed, n=40)), 'eye_closure')
    frames = []
    for i in range(int(60 * FPS)):                               # 12/min for 30 s, then 45/min
        period = 5.0 if i < 30 * FPS else 1.33
        frames.append(PersonInput(face=face_observation(blendshapes=closed if (i / FPS) % period < 0.12 else {})))
    cues = run(frames, baseline=BaselineConfig(window_s=25.0, sample_every_s=0.0))
    high = active(cues, 'blink_rate_high')
    assert high and 29 <= high[0].start_ns / NS <= 36, [c.start_ns / NS for c in high[:1]]


def test_gaze_aversion_nod_and_shake():
    ahead = face_frames(n=3 * FPS)
    away = [PersonInput(face=face_observation(gaze_yaw_deg=25.0)) for _ in range(FPS)]
    cues = run(ahead + away, baseline=BaselineConfig(window_s=2.0, sample_every_s=0.0))
    assert active(cues, 'gaze_aversion') and active(cues, 'gaze_aversion')[0].start_ns / NS == pytest.approx(3.0)
    t = np.arange(0, 4, 1 / FPS)
    wave = np.where((t > 1) & (t < 1.8), -5 * (1 - np.cos(2 * np.pi * 2.5 * (t - 1))), 0)
    nod = run([PersonInput(face=face_observation(pitch_deg=p)) for p in wave])
    shake = run([PersonInput(face=face_observation(yaw_deg=p)) for p in wave])
    assert active(nod, 'head_nod') and not active(nod, 'head_shake')
    assert active(shake, 'head_shake') and not active(shake, 'head_nod')
    assert active(nod, 'head_nod')[0].start_ns / NS == pytest.approx(1.0, abs=0.07)


def test_composite_cue_and_track_end():
    frames = [PersonInput(skeleton=blazepose_person(left_wrist=(338, 118)),
                          face=face_observation(gaze_yaw_deg=30.0)) for _ in range(45)]
    person = PersonCues(4, CueConfig(), FIXED)
    cues = [c for i, f in enumerate(frames) for c in person.update(int(i * NS / FPS), f)]
    both = active(cues, 'self_touch_gaze_aversion')
    assert both and {n for n, _ in both[0].evidence} >= {'cue.self_touch_face', 'cue.gaze_aversion'}
    ended = person.finish(int(2 * NS))
    assert ended and all(not c.active and c.end_ns > 0 for c in ended)
    assert 'no longer tracked' in ended[0].explanation


# --- the explanation test ---------------------------------------------------------------------------------
def ablate(inp: PersonInput, names: set) -> PersonInput:
    """Remove cited evidence from one frame: joints unobserved, blendshapes and angles back to neutral."""
    sk, face, hands, sk3 = inp.skeleton, inp.face, dict(inp.hands), inp.skeleton3d
    if sk is not None:
        conf = sk.confidence.copy()
        for n in names:
            if n.startswith('kp2d.') and n[5:] in BlazePose.__members__:
                conf[BlazePose[n[5:]]] = 0.0
            if n == 'kp2d.HEAD':
                conf[:11] = 0.0
        sk = dataclasses.replace(sk, confidence=conf)
    if face is not None:
        bs = face.blendshapes.copy()
        from nvb_perception.cues.face import BLENDSHAPE_INDEX
        for n in names:
            if n.startswith('bs.'):
                bs[BLENDSHAPE_INDEX[n[3:]]] = 0.02
        face = dataclasses.replace(face, blendshapes=bs,
                                   pitch_deg=0.0 if 'head.pitch_deg' in names else face.pitch_deg,
                                   yaw_deg=0.0 if 'head.yaw_deg' in names else face.yaw_deg,
                                   gaze_yaw_deg=0.0 if 'gaze.yaw_deg' in names else face.gaze_yaw_deg,
                                   gaze_pitch_deg=0.0 if 'gaze.pitch_deg' in names else face.gaze_pitch_deg)
        if 'face.presence' in names and not any(n.startswith(('bs.', 'gaze.', 'head.')) for n in names):
            face = None
    for side in ('left', 'right'):
        if f'hand.{side}' in names:
            hands.pop(side, None)
    return PersonInput(sk, sk3, face, hands)


def cited(cue, by_name) -> set:
    """The inputs a cue cites, following composite cues to their constituents' evidence."""
    out = set()
    for n, _ in cue.evidence:
        if n.startswith('cue.'):
            out |= cited(by_name[n[4:]], by_name)
        elif not n.startswith(DERIVED):
            out.add(n)
    return out


def _wave(p):
    return face_observation(pitch_deg=p)


SCENARIOS = {
    'self_touch_face': lambda: body_frames(left_wrist=(338, 118)),
    'self_touch_hands': lambda: body_frames(left_wrist=(325, 255), right_wrist=(318, 262)),
    'arm_crossing': lambda: body_frames(left_wrist=(295, 225), right_wrist=(346, 232)),
    'smile': lambda: face_frames(smile=0.8),
    'pain_expression': lambda: face_frames(blendshapes={'browDownLeft': 0.5, 'browDownRight': 0.5,
                                                        'noseSneerLeft': 0.4, 'noseSneerRight': 0.4}),
    'gaze_aversion': lambda: face_frames(gaze_yaw_deg=30.0),
    'head_nod': lambda: [PersonInput(face=_wave(p)) for p in np.where(
        (np.arange(90) > 20) & (np.arange(90) < 44), -5 * (1 - np.cos(2 * np.pi * 2.5 * (np.arange(90) - 20) / FPS)),
        0.0)],
    'self_touch_gaze_aversion': lambda: [PersonInput(skeleton=blazepose_person(left_wrist=(338, 118)),
                                                     face=face_observation(gaze_yaw_deg=30.0))] * 45,
}


@pytest.mark.parametrize('cue', sorted(SCENARIOS))
def test_removing_the_cited_evidence_removes_the_detection(cue):
    frames = SCENARIOS[cue]()
    cues = run(frames)
    found = active(cues, cue)
    assert found, f'{cue} not detected: {sorted({c.name for c in cues if c.active})}'
    by_name = {c.name: c for c in cues if c.active}
    names = cited(found[0], by_name)
    assert names, f'{cue} cites no input: {found[0].evidence}'
    ablated = run([ablate(f, names) for f in frames])
    assert not active(ablated, cue), f'{cue} survived removing {sorted(names)}'
