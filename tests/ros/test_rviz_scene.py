"""The RViz scene of the real nodes, rendered to PNG and checked: lifting_node + risk_node (+ recorder) as processes.

Two real people (BlazePose on basketball1.png and messi5.jpg, placed side by side as one 1409x480 camera image)
go in as 2D skeletons with the image's CameraInfo; the skeleton and risk MarkerArrays that come out are applied
to a MarkerScene exactly as RViz would, rendered from the camera and from the side, and written to
out/rviz_scene.png. Then track 2 ends (TERMINATED) and its markers must leave the scene and the picture.
"""
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from nvb_perception.draw import track_color
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.lifting.lifter import to_h36m
from nvb_perception.ros.convert import header_to_msg, skeleton2d_frame_to_msg, time_from_msg
from nvb_perception.ros.marker_scene import apply_marker_array, scene_at_stamp
from nvb_perception.scene import TITLE_BAR_PX, MarkerScene, View, render
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Stamp, TrackState

ROOT = Path(__file__).resolve().parents[2]
FRAME = 'camera_optical_frame'
MARKERS = 'visualization_msgs/msg/MarkerArray'
TOPICS = {'skeleton_markers': MARKERS, 'risk_markers': MARKERS}
HFOV_DEG = 60.0
N = 8                                        # frames with both people; frame N ends track 2
PERIOD_NS = 100_000_000
COLOR_TOLERANCE = 40                         # max |BGR difference| for a pixel to count as a track's colour


@pytest.fixture(scope='module')
def two_people(assets):
    """The combined photo and two real 2D skeletons (track 1 left, track 2 right) in its pixel coordinates."""
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    left = cv2.imread(str(assets / 'data' / 'opencv' / 'basketball1.png'))
    right = cv2.imread(str(assets / 'data' / 'opencv' / 'messi5.jpg'))
    right = cv2.resize(right, (round(right.shape[1] * left.shape[0] / right.shape[0]), left.shape[0]))
    image = np.hstack([left, right])
    estimator = PoseEstimator.from_config(PoseConfig(static_image_mode=True, max_people=1))
    people = []
    for track_id, x0, crop in ((1, 0, left), (2, left.shape[1], right)):
        found = estimator(crop, 0).visible
        assert len(found) == 1
        s = found[0].skeleton
        people.append(Skeleton2D(s.keypoints + np.float32([x0, 0]), s.confidence, track_id=track_id,
                                 bbox=s.bbox + np.float32([x0, 0, x0, 0])))
    return image, people


def skeletons_msg(i, people, states):
    skeletons = tuple(Skeleton2D(p.keypoints, p.confidence if s != TrackState.TERMINATED else 0 * p.confidence,
                                 track_id=p.track_id, track_state=s, bbox=p.bbox) for p, s in zip(people, states))
    return skeleton2d_frame_to_msg(Skeleton2DFrame(Stamp(i * PERIOD_NS, FRAME), (1409, 480), skeletons))


def mask_of(img, track_id):
    """Pixels drawn in a track's colour."""
    return (np.abs(img.astype(int) - np.array(track_color(track_id))).max(axis=2) <= COLOR_TOLERANCE)


def test_marker_messages_apply_like_rviz():
    """The node's own marker builders through apply_marker_array: ADD, pose, DELETE, DELETEALL, unsupported."""
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker, MarkerArray

    from nvb_perception.ros.markers import delete_marker, skeleton_marker, text_marker
    header = Header(frame_id=FRAME)
    bones = skeleton_marker(header, 'skeleton_3d', 4, np.array([[0, 0, 3.0], [0, 1, 3.0], [1, 1, 3.0]]),
                            [(0, 1), (1, 2)], np.array([1.0, 1.0, 0.1]))         # joint 2 unseen: one bone
    label = text_marker(header, 'risk/RULA', 4, (0.0, -0.2, 3.0), '#4 RULA 5 level 3')
    label.pose.orientation.z, label.pose.orientation.w = 1.0, 0.0                # a rotation: the position stays
    arrow = Marker(header=header, ns='arrows', id=1, type=Marker.ARROW, action=Marker.ADD)
    scene = MarkerScene(FRAME)
    apply_marker_array(scene, MarkerArray(markers=[bones, label, arrow]), 100.0)
    assert scene.keys() == {('skeleton_3d', 4), ('risk/RULA', 4)} and scene.unsupported == 1
    assert np.allclose(scene.markers[('skeleton_3d', 4)].points, [[0, 0, 3], [0, 1, 3]])
    assert np.allclose(scene.markers[('risk/RULA', 4)].points, [[0, -0.2, 3]])
    assert scene.markers[('risk/RULA', 4)].lifetime_s == 1.0
    apply_marker_array(scene, MarkerArray(markers=[delete_marker(header, 'risk/RULA', 4)]), 100.1)
    assert scene.keys() == {('skeleton_3d', 4)}
    apply_marker_array(scene, MarkerArray(markers=[]), 101.0)                    # lifetime (1 s) is over
    assert scene.keys() == set()
    apply_marker_array(scene, MarkerArray(markers=[bones, label]), 102.0)
    apply_marker_array(scene, MarkerArray(markers=[Marker(ns='', action=Marker.DELETEALL)]), 102.0)
    assert scene.keys() == set()


def test_cli_uses_the_recorded_camera_and_image(tmp_path):
    """A bag with CameraInfo, an image and markers (ADD, later DELETE): intrinsics, background and --time."""
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    from visualization_msgs.msg import MarkerArray

    from nvb_perception.imaging import numpy_to_image_fields
    from nvb_perception.io.bag import BagWriter
    from nvb_perception.ros.markers import delete_marker, skeleton_marker
    from nvb_perception.ros.video_publisher import camera_info
    header = Header(frame_id=FRAME)
    photo = np.full((120, 160, 3), 200, np.uint8)
    bar = skeleton_marker(header, 'bars', 3, np.array([[-0.5, 0, 2.0], [0.5, 0, 2.0]]), [(0, 1)], np.ones(2))
    bar.lifetime.sec = 0
    messages = [('/camera_info', 'sensor_msgs/msg/CameraInfo', camera_info(160, 120, 90.0, FRAME)),
                ('/image', 'sensor_msgs/msg/Image', Image(header=header, **numpy_to_image_fields(photo, 'bgr8'))),
                ('/markers', MARKERS, MarkerArray(markers=[bar])),
                ('/markers', MARKERS, MarkerArray(markers=[delete_marker(header, 'bars', 3)]))]
    with BagWriter(tmp_path / 'bag') as bag:
        for i, (topic, msgtype, msg) in enumerate(messages):
            bag.add_topic(topic, msgtype)
            bag.write(topic, i * 10**9, serialize_message(msg))
    for time_s, bar_drawn in ((2.5, True), (None, False)):
        out = tmp_path / f'{time_s}.png'
        args = ['--time', str(time_s)] if time_s is not None else []
        cli = subprocess.run([sys.executable, '-m', 'nvb_perception.offline.render_markers', str(tmp_path / 'bag'),
                              '--out', str(out), '--image-topic', 'image', '--no-side', *args],
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        img = cv2.imread(str(out))[TITLE_BAR_PX:]
        assert img.shape == photo.shape                      # the CameraInfo's size, not the --size default
        bar_px = mask_of(img, 3)
        if bar_drawn:                                        # f = 80 px: 1 m at 2 m is 40 px wide, at row 59.5
            assert bar_px[59:61, 62:98].any(axis=0).all()
        else:
            assert not bar_px.any()
        assert (img[5:40, 5:40] == 200).all()                # the recorded image is the background


@pytest.mark.slow
def test_marker_scene_of_the_nodes_renders_and_tracks_end(two_people, log_dir, tmp_path):
    photo, people = two_people
    from nvb_perception.ros.video_publisher import camera_info
    info = camera_info(photo.shape[1], photo.shape[0], HFOV_DEG, FRAME)
    bag = tmp_path / 'markers_bag'
    nodes = [NodeProcess('lifting_node'), NodeProcess('risk_node'),
             NodeProcess('recorder', {'output': str(bag), 'topics': [f'{t}:{ty}' for t, ty in TOPICS.items()]})]
    with TopicListener(TOPICS) as io, ProcessGraph(nodes, log_dir) as graph:
        skeletons = io.publisher('skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray')
        infos = io.publisher('camera_info', 'sensor_msgs/msg/CameraInfo')
        assert io.wait_for_subscribers(skeletons) and io.wait_for_subscribers(infos), graph.logs()
        deadline = time.monotonic() + 30             # the recorder subscribes once it sees the publishers
        while min(io.node.count_subscribers(t) for t in TOPICS) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        for i in range(N + 1):
            states = (TrackState.NEW if i == 0 else TrackState.TRACKED,) * 2 if i < N else \
                (TrackState.TRACKED, TrackState.TERMINATED)
            info.header = header_to_msg(Stamp(i * PERIOD_NS, FRAME))
            msg = skeletons_msg(i, people, states)
            # lock-step, nothing dropped; frame 0 is sent again until answered (it can beat discovery between nodes)
            assert io.publish_until_answered([(infos, info), (skeletons, msg)],
                                             TOPICS, resend_s=0.5 if i == 0 else None, gap_s=0.05), \
                graph.logs()
        time.sleep(1.0)                                   # let the recorder store the last messages
    records = io.messages['skeleton_markers'] + io.messages['risk_markers']
    before = scene_at_stamp(records, (N - 1) * PERIOD_NS, FRAME)
    after = scene_at_stamp(records, N * PERIOD_NS, FRAME)
    camera = View.camera((photo.shape[1], photo.shape[0]), K=np.reshape(info.k, (3, 3)))
    write_picture(photo, camera, before, after, tmp_path)          # first, so a failure can be looked at too

    # stable namespace and id per track, the track's colour, the camera frame, in every frame
    expected = {('skeleton_3d', t) for t in (1, 2)} | {(f'risk/{m}', t) for m in ('RULA', 'REBA') for t in (1, 2)}
    for i in range(N):
        frame = [m for _, msg in records for m in msg.markers if time_from_msg(m.header.stamp) == i * PERIOD_NS]
        assert {(m.ns, m.id) for m in frame} == expected, i
        for m in frame:
            assert m.header.frame_id == FRAME and m.action == m.ADD
            b, g, r = track_color(m.id)
            assert np.allclose([m.color.r, m.color.g, m.color.b], [r / 255, g / 255, b / 255], atol=1e-6)
    assert before.keys() == expected and before.other_frames == 0
    assert after.keys() == {k for k in expected if k[1] == 1}      # DELETE removed every marker of track 2

    # on RViz's dark background, the grid at a fixed height, so the two pictures differ only by the markers
    dark_before, dark_after = render(before, camera, ground_y=2.0), render(after, camera, ground_y=2.0)
    for person in people:
        check_drawn(person, before, camera, dark_before)
    # after TERMINATED: track 2 has no pixel left, track 1 is untouched
    assert mask_of(dark_before, 2).sum() > 500 and mask_of(dark_after, 2).sum() == 0
    assert mask_of(dark_after, 1).sum() == mask_of(dark_before, 1).sum()
    check_bag_and_cli(bag, expected, after, render(after, camera), tmp_path)


def write_picture(photo, camera, before, after, tmp_path):
    """Over the photo and from the side, before and after track 2 ended: the test's dir and out/rviz_scene.png."""
    side = View.side(before.points(), (800, photo.shape[0]))
    rows = [np.hstack([render(s, camera, background=photo, title=f'camera view, {when}'),
                       render(s, side, title=side.name)]) for s, when in ((before, f'frame {N - 1}'),
                                                                           (after, f'frame {N}: track 2 ended'))]
    for path in (tmp_path / 'rviz_scene.png', ROOT / 'out' / 'rviz_scene.png'):
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), np.vstack(rows))


def check_drawn(person, scene, camera, img):
    """One track's bones near its 2D joints and drawn in its colour; its risk labels above its head."""
    t = person.track_id
    bones = scene.markers[('skeleton_3d', t)].points
    # the 3D joints land near the 2D joints they were lifted from (root placed from 2D + intrinsics)
    keypoints, confidence = to_h36m(person)
    uv, _ = camera.project(np.unique(bones, axis=0))
    error = [np.min(np.linalg.norm(uv - k, axis=1)) for k, c in zip(keypoints, confidence) if c > 0.5]
    height = person.bbox[3] - person.bbox[1]
    print(f'\ntrack {t}: 2D joint to nearest projected 3D joint, median {np.median(error):.1f} px '
          f'(person {height:.0f} px tall)')
    assert np.median(error) < 0.1 * height
    # every bone is drawn in the track's colour: the pixels around its midpoint have that colour
    mids, _ = camera.project((bones[0::2] + bones[1::2]) / 2)
    mask = mask_of(img, t)
    hits = [mask[int(round(v)) - 1:int(round(v)) + 2, int(round(u)) - 1:int(round(u)) + 2].any() for u, v in mids]
    assert len(hits) >= 12 and np.mean(hits) >= 0.9, hits
    # the risk labels are above the head, say which track and method, and are drawn in the track's colour
    head_v = camera.project(bones[np.argmin(bones[:, 1])][None])[0][0, 1]
    for method in ('RULA', 'REBA'):
        label = scene.markers[(f'risk/{method}', t)]
        assert label.kind == 'text' and label.text.startswith(f'#{t} {method} ')
        (u, v), = camera.project(label.points)[0]
        assert v < head_v, (t, method, v, head_v)
        row = mask[max(0, int(v) - 8):int(v) + 8]          # labels are shifted sideways to stay in the picture
        assert row.sum() >= 30, (t, method, row.sum())


def check_bag_and_cli(bag, expected, after, camera_picture, tmp_path):
    """The recorder's MCAP bag replays to the same scenes; the CLI draws the last one as the test did."""
    from nvb_perception.io.bag import BagReader, deserialize
    from nvb_perception.offline.render_markers import replay as replay_bag
    recorded = list(BagReader(bag).messages())
    ended = min(i for i, r in enumerate(recorded) if any(m.action == 2 for m in deserialize(r).markers))
    last_of_both_ns = recorded[ended - 1].stamp_ns - recorded[0].stamp_ns     # the last message before a DELETE
    assert replay_bag(bag, time_s=last_of_both_ns * 1e-9 + 1e-6)[0].keys() == expected
    assert replay_bag(bag)[0].keys() == after.keys()
    out_png = tmp_path / 'cli_scene.png'
    h, w = camera_picture.shape[:2]      # no CameraInfo in this bag: the same pinhole from --hfov and --size
    cli = subprocess.run([sys.executable, '-m', 'nvb_perception.offline.render_markers', str(bag), '--out',
                          str(out_png), '--topics', 'skeleton_markers,risk_markers', '--hfov', str(HFOV_DEG),
                          '--size', f'{w}x{h}'], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and 'wrote' in cli.stdout, cli.stderr
    from_cli = cv2.imread(str(out_png))
    assert from_cli.shape[0] == TITLE_BAR_PX + h
    assert np.array_equal(from_cli[TITLE_BAR_PX:, :w], camera_picture)     # pixel for pixel
