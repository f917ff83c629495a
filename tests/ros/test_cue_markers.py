"""cue_node's RViz text markers: the CueMarkers rules, and the real nodes' scene rendered with the cue text.

The process test runs lifting_node, risk_node and cue_node on the smiling astronaut (a real photo, with a grey
band added around it so the labels over her head stay in the picture), lock-step at 10 Hz source stamps. Once the
smile cue is on, the scene RViz would show has '#3 smile' above the risk labels, in the track's colour; after
the track ends (TERMINATED) the text is gone from the scene and the picture. The picture: out/cue_scene.png.
"""
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from nvb_perception.draw import track_color
from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.ros.convert import cue_frame_from_msg, header_to_msg, skeleton2d_frame_to_msg, time_from_msg
from nvb_perception.ros.cue_markers import ABOVE_HEAD_M, CueMarkers
from nvb_perception.ros.marker_scene import scene_at_stamp
from nvb_perception.scene import MarkerScene, View, render
from nvb_perception.skeleton import H36M
from nvb_perception.types import Cue, Skeleton2D, Skeleton2DFrame, Skeleton3D, Skeleton3DFrame, Stamp, TrackState

ROOT = Path(__file__).resolve().parents[2]
FRAME = 'camera_optical_frame'
MARKERS = 'visualization_msgs/msg/MarkerArray'
ANSWERS = {'cues': 'nvb_perception_msgs/msg/CueArray', 'skeleton_markers': MARKERS, 'risk_markers': MARKERS}
TOPICS = {**ANSWERS, 'cue_markers': MARKERS}
PAD_TOP_PX, PAD_SIDE_PX = 300, 250   # grey band around the photo: room for the labels over the head
HFOV_DEG = 60.0
N = 12                             # frames with the astronaut; frame N ends track 3
TRACK = 3
PERIOD_NS = 100_000_000
COLOR_TOLERANCE = 40


def cue(name, track_id=TRACK, active=True):
    return Cue(name, track_id, active, 0.9, 0)


def skeleton3d(head, state=TrackState.TRACKED, root_relative=False, track_id=TRACK):
    positions = np.zeros((len(H36M), 3))
    positions[H36M.HEAD] = head
    confidence = np.ones(len(H36M)) if state in (TrackState.NEW, TrackState.TRACKED) else np.zeros(len(H36M))
    return Skeleton3D(positions, confidence, track_id=track_id, track_state=state, root_relative=root_relative)


def frame3d(*skeletons):
    return Skeleton3DFrame(Stamp(0, FRAME), tuple(skeletons))


def actions(markers):
    return [(m.ns, m.id, m.action, m.text) for m in markers.markers]


def test_cue_markers_add_move_and_delete():
    header, markers = Header(frame_id=FRAME), CueMarkers(marker_depth_m=3.0)
    head = np.array([0.1, -0.5, 2.0])
    # no head known yet (3D frame late): nothing to place, nothing sent
    assert actions(markers.update(header, [cue('smile')], None, {TRACK})) == []
    out = markers.update(header, [cue('smile'), cue('head_nod'), cue('other', 5)], frame3d(skeleton3d(head)),
                         {TRACK, 5})
    assert actions(out) == [('cues', TRACK, 0, '#3 head_nod, smile')]       # track 5 was never seen in 3D
    p = out.markers[0].pose.position
    assert np.allclose([p.x, p.y, p.z], head + ABOVE_HEAD_M) and ABOVE_HEAD_M[1] < -0.25   # over risk rows
    # LOST: its 3D notice is zeros; the text stays at the last head
    out = markers.update(header, [cue('smile')], frame3d(skeleton3d(0 * head, TrackState.LOST)), {TRACK})
    assert np.allclose([out.markers[0].pose.position.y], [head[1] + ABOVE_HEAD_M[1]])
    # the cue ends, the track lives on: one DELETE, then silence
    assert actions(markers.update(header, [cue('smile', active=False)], None, {TRACK})) == \
        [('cues', TRACK, 2, '')]
    assert actions(markers.update(header, [], frame3d(skeleton3d(head)), {TRACK})) == []
    # root-relative skeletons are drawn at marker_depth_m, as lifting_node draws them
    out = markers.update(header, [cue('smile')], frame3d(skeleton3d(head, root_relative=True)), {TRACK})
    assert np.isclose(out.markers[0].pose.position.z, head[2] + 3.0)
    # the stage forgot the track (its events ended): DELETE, and its head is forgotten too
    assert actions(markers.update(header, [], None, set())) == [('cues', TRACK, 2, '')]
    assert markers.heads == {} and markers.shown == set()


@pytest.fixture(scope='module')
def astronaut(astronaut_pose):
    """The photo under a grey band, and her real 2D skeleton (BlazePose) in that image's pixels."""
    photo, s = astronaut_pose
    image = cv2.copyMakeBorder(photo, PAD_TOP_PX, 0, PAD_SIDE_PX, PAD_SIDE_PX, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    shift = np.float32([PAD_SIDE_PX, PAD_TOP_PX])
    return image, Skeleton2D(s.keypoints + shift, s.confidence, track_id=TRACK, bbox=s.bbox + np.tile(shift, 2))


def mask_of(img, track_id=TRACK):
    return (np.abs(img.astype(int) - np.array(track_color(track_id))).max(axis=2) <= COLOR_TOLERANCE)


@pytest.mark.slow
def test_cue_text_in_the_scene_of_the_nodes(astronaut, log_dir, tmp_path):
    from nvb_perception.ros.video_publisher import camera_info
    image, person = astronaut
    size = (image.shape[1], image.shape[0])
    info = camera_info(*size, HFOV_DEG, FRAME)
    # smile needs the face model only; a fixed baseline so the first frames count; the 3D frame is always waited for
    cue_node = NodeProcess('cue_node', {'hands': False, 'baseline.mode': 'fixed', 'image_qos': 'reliable',
                                        'max_people': 1, 'sync_timeout_s': 5.0})
    with TopicListener(TOPICS) as io, ProcessGraph([NodeProcess('lifting_node'), NodeProcess('risk_node'),
                                                    cue_node], log_dir) as graph:
        pubs = [io.publisher(topic, msgtype) for topic, msgtype in (
            ('camera_info', 'sensor_msgs/msg/CameraInfo'), ('image', 'sensor_msgs/msg/Image'),
            ('skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray'))]
        assert all(io.wait_for_subscribers(p, timeout=60) for p in pubs), graph.logs()
        for i in range(N + 1):
            state = TrackState.TERMINATED if i == N else TrackState.NEW if i == 0 else TrackState.TRACKED
            stamp = Stamp(i * PERIOD_NS, FRAME)
            info.header = header_to_msg(stamp)
            photo = Image(header=header_to_msg(stamp), **numpy_to_image_fields(image, 'bgr8'))
            s = Skeleton2D(person.keypoints, person.confidence, track_id=TRACK, track_state=state, bbox=person.bbox)
            frame = skeleton2d_frame_to_msg(Skeleton2DFrame(stamp, size, (s,)))
            # lock-step; frame 0 is sent again until answered (the nodes start and discover each other meanwhile)
            assert io.publish_until_answered(zip(pubs, (info, photo, frame)),
                                             ANSWERS, resend_s=1.0 if i == 0 else None, gap_s=0.03), \
                graph.logs()
        time.sleep(0.5)                                   # a DELETE sent last has time to arrive
    cue_frames = {f.stamp.stamp_ns: f for f in (cue_frame_from_msg(m) for _, m in io.messages['cues'])}
    texts = {time_from_msg(m.header.stamp): m for _, a in io.messages['cue_markers'] for m in a.markers}
    smiling = [t for t, f in cue_frames.items() if any(c.name == 'smile' and c.active for c in f.cues)]
    assert smiling and max(smiling) == (N - 1) * PERIOD_NS, sorted(smiling)
    for t, f in cue_frames.items():          # a text at every stamp with active cues, listing exactly them
        names = sorted({c.name for c in f.cues if c.active})
        if names:
            m = texts[t]
            assert (m.ns, m.id, m.action, m.header.frame_id) == ('cues', TRACK, m.ADD, FRAME)
            assert m.text == f'#{TRACK} ' + ', '.join(names)
    assert texts[N * PERIOD_NS].action == texts[N * PERIOD_NS].DELETE           # TERMINATED removes it

    records = io.messages['skeleton_markers'] + io.messages['risk_markers'] + io.messages['cue_markers']
    before = scene_at_stamp(records, (N - 1) * PERIOD_NS, FRAME)
    after = scene_at_stamp(records, N * PERIOD_NS, FRAME)
    camera = View.camera(size, K=np.reshape(info.k, (3, 3)))
    write_picture(image, camera, before, after, tmp_path)
    assert ('cues', TRACK) in before.keys() and 'smile' in before.markers[('cues', TRACK)].text
    assert after.keys() == set()                                     # every marker of the ended track is gone

    # on the image: above the head, above both risk labels, inside the picture, drawn in the track's colour
    bones = before.markers[('skeleton_3d', TRACK)].points
    head_v = camera.project(bones[np.argmin(bones[:, 1])][None])[0][0, 1]
    risk_v = [camera.project(before.markers[(f'risk/{m}', TRACK)].points)[0][0, 1] for m in ('RULA', 'REBA')]
    (u, v), = camera.project(before.markers[('cues', TRACK)].points)[0]
    print(f'\ncue text at v={v:.0f} px, risk labels at {np.round(risk_v)}, head at {head_v:.0f} px')
    assert 20 < v < min(risk_v) - 30 and max(risk_v) < head_v, (v, risk_v, head_v)
    text_px = mask_of(render(subscene(before, 'cues'), camera, grid=False))
    risk_px = mask_of(render(subscene(before, 'risk/'), camera, grid=False))
    rows, risk_rows = np.nonzero(text_px.any(axis=1))[0], np.nonzero(risk_px.any(axis=1))[0]
    assert text_px.sum() >= 300 and rows.min() <= v <= rows.max() < risk_rows.min(), (rows, v, risk_rows)
    assert (mask_of(render(before, camera, grid=False)) & text_px).sum() >= 0.9 * text_px.sum()   # on top
    assert mask_of(render(after, camera, grid=False)).sum() == 0


def subscene(scene, ns_prefix):
    """The markers of the namespaces starting with ns_prefix."""
    part = MarkerScene(FRAME)
    for key in scene.keys(ns_prefix):
        part.add(scene.markers[key], 0.0)
    return part


def write_picture(image, camera, before, after, tmp_path):
    """Camera view over the photo before and after the track ended: the test's dir and out/cue_scene.png."""
    picture = np.hstack([render(before, camera, background=image, title=f'frame {N - 1}: smiling'),
                         render(after, camera, background=image, title=f'frame {N}: track ended')])
    for path in (tmp_path / 'cue_scene.png', ROOT / 'out' / 'cue_scene.png'):
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), picture)
