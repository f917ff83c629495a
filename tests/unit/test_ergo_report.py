"""Ergonomics report (HTML + PNG + CSV) from synthetic series, and the nvb-ergo-report CLI on tiny MCAP bags."""
import csv
import math

import numpy as np
import pytest

from nvb_perception.ergonomics import ExposureTracker, RulaInputs
from nvb_perception.io.bag import BagWriter, serialize, typestore
from nvb_perception.offline import ergo_report
from nvb_perception.offline.ergonomics_report import KeyFrame, frame_seconds, key_moments, worst_sustained, write_report
from nvb_perception.skeleton import H36M as J

PNG = b'\x89PNG\r\n\x1a\n'
T0 = 1_700_000_000 * 10**9


def pose(trunk=0.0, right_arm=0.0):
    """Standing H36M skeleton in the optical frame of a camera facing the person; trunk / right arm flexed (deg)."""
    p = np.zeros((17, 3))
    for side, x in (('LEFT', 1), ('RIGHT', -1)):
        p[J[f'{side}_HIP']], p[J[f'{side}_KNEE']], p[J[f'{side}_ANKLE']] = (.13 * x, 0, 0), (.13 * x, -.44, 0), \
            (.13 * x, -.88, 0)
        p[J[f'{side}_SHOULDER']], p[J[f'{side}_ELBOW']] = (.17 * x, .46, 0), (.17 * x, .18, 0)
        p[J[f'{side}_WRIST']] = (.17 * x, .18, .25)                      # forearm forward: elbow at 90 deg
    p[J.SPINE], p[J.THORAX], p[J.NECK], p[J.HEAD] = (0, .23, 0), (0, .48, 0), (0, .60, .03), (0, .72, 0)

    def rx(deg):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    s = p[J.RIGHT_SHOULDER]
    p[[J.RIGHT_ELBOW, J.RIGHT_WRIST]] = (p[[J.RIGHT_ELBOW, J.RIGHT_WRIST]] - s) @ rx(-right_arm).T + s
    upper = [J.SPINE, J.THORAX, J.NECK, J.HEAD, J.LEFT_SHOULDER, J.LEFT_ELBOW, J.LEFT_WRIST, J.RIGHT_SHOULDER,
             J.RIGHT_ELBOW, J.RIGHT_WRIST]
    p[upper] = p[upper] @ rx(trunk).T
    return p @ np.diag([1.0, -1.0, -1.0])          # body (x left, y up, z forward) -> camera optical frame


def frames(n=40, fps=10.0):
    """Two people: track 1 bends repeatedly, track 2 (from frame 10) works with the right arm raised."""
    for i in range(n):
        people = {1: pose(trunk=40 + 35 * math.sin(i / 4))}
        if i >= 10:
            people[2] = pose(right_arm=120)
        yield T0 + int(i / fps * 1e9), people


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp('report')
    trackers = {m: ExposureTracker(m) for m in ('RULA', 'REBA')}
    series, key_frames = {}, {}
    for stamp, people in frames():
        for track, joints in people.items():
            key_frames[(track, stamp)] = KeyFrame(joints3d=joints)
            for method, tracker in trackers.items():
                series.setdefault((track, method), []).append((stamp, tracker.update(track, stamp, joints)))
    return out, write_report(out, series, key_frames, n_key_frames=1, sustained_s=1.0), series


def test_report_files(report):
    out, index, _ = report
    assert index == out / 'index.html'
    pngs = sorted(p.name for p in out.glob('*.png'))
    assert pngs == ['action_levels.png', 'heatmap_1_REBA.png', 'heatmap_1_RULA.png', 'heatmap_2_REBA.png',
                    'heatmap_2_RULA.png', 'keyframe_1_0.png', 'keyframe_2_0.png', 'timeline_1.png', 'timeline_2.png']
    for name in pngs:
        data = (out / name).read_bytes()
        assert len(data) > 1000 and data.startswith(PNG), name
    page = index.read_text()
    for text in ('Person 1', 'Person 2', 'RULA', 'REBA', 'action level', 'range', 'load or force handled'):
        assert text in page, text
    for name in pngs:
        assert f'<img src="{name}">' in page, name


def test_report_csv(report):
    out, _, series = report
    with open(out / 'ergonomics.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(len(v) for v in series.values()) == 2 * (40 + 30)
    assert {(r['track_id'], r['method']) for r in rows} == {('1', 'RULA'), ('1', 'REBA'), ('2', 'RULA'),
                                                            ('2', 'REBA')}
    first = rows[0]
    for column in ('time_s', 'stamp_ns', 'score', 'score_min', 'score_max', 'action_level', 'action', 'seg_trunk',
                   'seg_upper_arm_right', 'trunk_flexion_deg', 'right_upper_arm_flexion_deg', 'detected'):
        assert column in first, column
    assert int(first['score_min']) <= int(first['score']) <= int(first['score_max'])
    arm = [float(r['right_upper_arm_flexion_deg']) for r in rows if r['track_id'] == '2']
    assert arm[-1] == pytest.approx(120, abs=1)
    assert first['stamp_ns'] == str(T0) and first['time_s'] == '0.000'


def test_time_accounting_and_sustained():
    stamps = np.array([0, 1, 2, 5, 6], dtype=np.int64) * 10**8
    assert frame_seconds(stamps, max_gap_s=0.25).tolist() == pytest.approx([0, .1, .1, 0, .1])
    tracker = ExposureTracker('RULA', RulaInputs())
    series = [(T0 + i * 10**8, tracker.update(1, T0 + i * 10**8, pose(trunk=70 if 5 <= i < 35 else 0)))
              for i in range(50)]

    class Tr:          # the minimal _Track interface the helpers need
        stamps = np.array([s for s, _ in series])
        t = (stamps - stamps[0]) * 1e-9
        dt = frame_seconds(stamps)
        risks = [r for _, r in series]

        def column(self, attr):
            return np.array([getattr(r, attr) for r in self.risks])
    worst = worst_sustained(Tr(), sustained_s=2.0, max_gap_s=1.0)
    assert worst is not None and worst[0] == max(r.score for r in Tr.risks[10:30]) and worst[1] >= 2.0
    assert worst_sustained(Tr(), sustained_s=100.0, max_gap_s=1.0) is None
    (stamp, t), = key_moments([Tr()], 1)
    assert 0.5 <= t < 3.6                 # a moment of the bent-over period


def test_report_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match='no ergonomic risk'):
        write_report(tmp_path, {(1, 'RULA'): []})


def _skeleton_msg(types, track, joints, state=1):
    f32 = np.float32
    return types['nvb_perception_msgs/msg/Skeleton3D'](
        track_id=track, track_state=state, joint_set='h36m17', root_relative=True, x=joints[:, 0].astype(f32),
        y=joints[:, 1].astype(f32), z=joints[:, 2].astype(f32), confidence=np.ones(17, f32),
        position_std=np.zeros(0, f32), covariance=np.zeros(0, f32))


def _header(types, stamp):
    time = types['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9)
    return types['std_msgs/msg/Header'](stamp=time, frame_id='camera_optical_frame')


@pytest.fixture(scope='module')
def skeleton_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp('bags') / 'skeletons'
    types, msgtype = typestore().types, 'nvb_perception_msgs/msg/Skeleton3DArray'
    with BagWriter(path) as bag:
        bag.add_topic('/skeletons_3d', msgtype)
        bag.add_topic('/other', 'std_msgs/msg/String')
        for stamp, people in frames(n=30):
            msg = types[msgtype](header=_header(types, stamp),
                                 skeletons=[_skeleton_msg(types, t, j) for t, j in people.items()])
            bag.write('/skeletons_3d', stamp, serialize(msg, msgtype))
    return path


def test_cli_scores_a_skeleton_bag(skeleton_bag, tmp_path, capsys):
    out = tmp_path / 'ergo'
    assert ergo_report.main([str(skeleton_bag), '--out', str(out), '--methods', 'RULA', '--load-kg', '3',
                             '--key-frames', '1']) == 0
    assert '2 person(s)' in capsys.readouterr().out
    page = (out / 'index.html').read_text()
    assert 'Person 1' in page and 'Person 2' in page and 'REBA action level' not in page
    with open(out / 'ergonomics.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30 + 20 and {r['method'] for r in rows} == {'RULA'}
    assert (out / 'keyframe_2_0.png').stat().st_size > 1000


def test_cli_reads_recorded_risks(tmp_path, capsys):
    path, types = tmp_path / 'risks', typestore().types
    msgtype = 'nvb_perception_msgs/msg/ErgonomicRiskArray'
    tracker = ExposureTracker('REBA')
    with BagWriter(path) as bag:
        bag.add_topic('/ergonomic_risk', msgtype)
        for stamp, people in frames(n=20):
            risks = []
            for track, joints in people.items():
                r = tracker.update(track, stamp, joints)
                risks.append(types['nvb_perception_msgs/msg/ErgonomicRisk'](
                    track_id=track, method=r.method, score=r.score, score_min=r.score_min, score_max=r.score_max,
                    action_level=r.action_level, action=r.action, side=r.side,
                    segment_names=[n for n, _ in r.segment_scores],
                    segment_scores=np.array([v for _, v in r.segment_scores], np.uint8),
                    angle_names=[n for n, _ in r.angles_deg],
                    angles_deg=np.array([v for _, v in r.angles_deg], np.float32),
                    assumed_inputs=list(r.assumed_inputs)))
            bag.write('/ergonomic_risk', stamp, serialize(types[msgtype](header=_header(types, stamp), risks=risks),
                                                          msgtype))
    out = tmp_path / 'ergo'
    assert ergo_report.main([str(path), '--out', str(out), '--key-frames', '0']) == 0
    with open(out / 'ergonomics.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 + 10 and {r['method'] for r in rows} == {'REBA'}
    assert 'as recorded on /ergonomic_risk' in (out / 'index.html').read_text()


@pytest.mark.parametrize('case, message', [
    ('missing', 'does not exist'), ('not_a_bag', 'not a rosbag2 bag'), ('no_topic', 'no Skeleton3DArray'),
    ('wrong_topic', 'has no topic /nope'), ('wrong_type', 'expected Skeleton3DArray')])
def test_cli_bad_inputs_exit_2(case, message, skeleton_bag, tmp_path, capsys):
    args = {'missing': [str(tmp_path / 'nothing')], 'not_a_bag': [str(tmp_path)],
            'wrong_topic': [str(skeleton_bag), '--topic', '/nope'],
            'wrong_type': [str(skeleton_bag), '--topic', '/other']}.get(case)
    if case == 'no_topic':
        path = tmp_path / 'strings'
        with BagWriter(path) as bag:
            bag.add_topic('/chatter', 'std_msgs/msg/String')
            bag.write('/chatter', T0, serialize(typestore().types['std_msgs/msg/String'](data='hi'),
                                                'std_msgs/msg/String'))
        args = [str(path)]
    assert ergo_report.main(args + ['--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('nvb-ergo-report: ') and message in err and '\n' not in err


def test_cli_bad_option_exits_2(skeleton_bag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ergo_report.main([str(skeleton_bag), '--out', str(tmp_path), '--methods', 'OWAS'])
    assert exit_info.value.code == 2 and 'RULA' in capsys.readouterr().err
