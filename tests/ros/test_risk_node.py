"""risk_node as a separate process: 3D skeletons in over DDS, RULA/REBA out, markers, bad input survives."""
import math
import time

import numpy as np
import pytest

from nvb_perception.ergonomics import assess_reba, assess_rula
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.ros.convert import ergonomic_risk_frame_from_msg, skeleton3d_frame_to_msg
from nvb_perception.skeleton import H36M as J
from nvb_perception.types import Skeleton3D, Skeleton3DFrame, Stamp, TrackState

FACING_CAMERA = np.diag([1.0, -1.0, -1.0])   # body (x left, y up, z forward) -> optical frame, person facing us


def standing():
    p = np.zeros((17, 3))
    for side, x in (('LEFT', 1), ('RIGHT', -1)):
        p[J[f'{side}_HIP']], p[J[f'{side}_KNEE']], p[J[f'{side}_ANKLE']] = (.13 * x, 0, 0), (.13 * x, -.44, 0), \
            (.13 * x, -.88, 0)
        p[J[f'{side}_SHOULDER']], p[J[f'{side}_ELBOW']], p[J[f'{side}_WRIST']] = (.17 * x, .46, 0), \
            (.17 * x, .18, 0), (.17 * x, -.07, 0)
    p[J.SPINE], p[J.THORAX], p[J.NECK], p[J.HEAD] = (0, .23, 0), (0, .48, 0), (0, .60, .03), (0, .72, 0)
    return p


def bent_forward(deg=50.0):
    """Trunk, head and arms rotated forward about the pelvis's left-right axis."""
    p = standing()
    upper = [J.SPINE, J.THORAX, J.NECK, J.HEAD, J.LEFT_SHOULDER, J.LEFT_ELBOW, J.LEFT_WRIST, J.RIGHT_SHOULDER,
             J.RIGHT_ELBOW, J.RIGHT_WRIST]
    t = math.radians(deg)
    r = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    p[upper] = p[upper] @ r.T
    return p


def frame(stamp_ns, people):
    skeletons = tuple(Skeleton3D(pose @ FACING_CAMERA.T, np.ones(17), track_id=tid, track_state=state)
                      for tid, pose, state in people)
    return skeleton3d_frame_to_msg(Skeleton3DFrame(Stamp(stamp_ns, 'cam'), skeletons))


@pytest.mark.slow
def test_risk_node_scores_people_over_dds(log_dir):
    node = NodeProcess('risk_node', {'methods': ['RULA', 'REBA']})
    topics = {'ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray',
              'risk_markers': 'visualization_msgs/msg/MarkerArray'}
    with ProcessGraph([node], log_dir) as graph, TopicListener(topics) as io:
        pub = io.publisher('skeletons_3d', 'nvb_perception_msgs/msg/Skeleton3DArray')
        assert io.wait_for_subscribers(pub), graph.logs()
        assert io.wait_for_publishers('ergonomic_risk'), graph.logs()     # the first scores must not be lost
        n = 10
        for i in range(n):
            pub.publish(frame(i * 100_000_000, [(1, standing(), TrackState.TRACKED),
                                                (2, bent_forward(), TrackState.TRACKED)]))
            time.sleep(0.02)
        # malformed input: wrong joint set, then NaN joints: dropped or scored as unobservable, never a crash
        bad = frame(n * 100_000_000, [(3, standing(), TrackState.TRACKED)])
        bad.skeletons[0].joint_set = 'coco17'
        pub.publish(bad)
        nan = frame((n + 1) * 100_000_000, [(4, np.full((17, 3), np.nan), TrackState.TRACKED)])
        pub.publish(nan)
        pub.publish(frame((n + 2) * 100_000_000, [(1, standing(), TrackState.TERMINATED)]))
        assert io.wait_for('ergonomic_risk', n + 3, timeout=30), graph.logs()
        # the markers of the last frame follow its scores: wait for the ended track's DELETE too
        io.wait_until(lambda: io.deleted('risk_markers', 1), timeout=30)
        assert node.process.poll() is None, graph.logs()
    frames = [ergonomic_risk_frame_from_msg(m) for _, m in io.messages['ergonomic_risk']]
    last = {(r.track_id, r.method): r for f in frames[:n] for r in f.risks}
    for tid, pose in ((1, standing()), (2, bent_forward())):
        cam = pose @ FACING_CAMERA.T
        assert last[(tid, 'RULA')].score == assess_rula(cam).score
        assert last[(tid, 'REBA')].score == assess_reba(cam).score
    assert last[(2, 'RULA')].score > last[(1, 'RULA')].score
    assert frames[0].stamp.frame_id == 'cam' and frames[0].stamp.stamp_ns == 0
    assert 'load_kg=0' in last[(1, 'RULA')].assumed_inputs
    assert frames[n].risks == ()                          # coco17 skeleton dropped
    assert all(r.track_id == 4 for r in frames[n + 1].risks)
    markers = [m for _, arr in io.messages['risk_markers'] for m in arr.markers]
    assert any(m.ns == 'risk/RULA' and m.id == 2 and 'RULA' in m.text for m in markers)
    assert any(m.action == m.DELETE and m.id == 1 for m in markers)


def test_risk_node_rejects_bad_configuration(log_dir):
    node = NodeProcess('risk_node', {'methods': ['OWAS']})
    with ProcessGraph([node], log_dir):
        assert node.wait(30) == 2
    assert 'OWAS' in node.log() and 'Traceback' not in node.log()
