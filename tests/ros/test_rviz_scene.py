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
from nvb_perception.lifting.lifter import to_h36m
from nvb_perception.ros.convert import header_to_msg, skeleton2d_frame_to_msg, time_from_msg
from nvb_perception.ros.marker_scene import apply_marker_array
from nvb_perception.ros.processes import NodeProcess, ProcessGraph, TopicListener
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


def replay(records, until_stamp_ns):
    """The scene RViz would show after every marker message of frames stamped <= until_stamp_ns."""
    scene = MarkerScene(FRAME)
    for received_ns, msg in sorted(records, key=lambda r: r[0]):
        if msg.markers and time_from_msg(msg.markers[0].header.stamp) <= until_stamp_ns:
            apply_marker_array(scene, msg, received_ns * 1e-9)
    return scene


@pytest.mark.slow
def test_marker_scene_of_the_nodes_renders_and_tracks_end(two_people, log_dir, tmp_path):
    photo, people = two_people
    from nvb_perception.ros.video_publisher import camera_info
    info = camera_info(photo.shape[1], photo.shape[0], HFOV_DEG, FRAME)
    bag = tmp_path / 'markers_bag'
    nodes = [NodeProcess('lifting_node'), NodeProcess('risk_node'),
             NodeProcess('recorder', {'output': str(bag), 'topics': [f'{t}:{ty}' for t, ty in TOPICS.items()]
                                      + ['camera_info:sensor_msgs/msg/CameraInfo']})]
    with TopicListener(TOPICS) as io, ProcessGraph(nodes, log_dir) as graph:
        skeletons = io.publisher('skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray')
        infos = io.publisher('camera_info', 'sensor_msgs/msg/CameraInfo')
        assert io.wait_for_subscribers(skeletons) and io.wait_for_subscribers(infos, 2), graph.logs()
        deadline = time.monotonic() + 30             # the recorder subscribes once it sees the publishers
        while min(io.node.count_subscribers(t) for t in TOPICS) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        for i in range(N + 1):
            info.header = header_to_msg(Stamp(i * PERIOD_NS, FRAME))
            infos.publish(info)
            time.sleep(0.05)
            states = (TrackState.NEW if i == 0 else TrackState.TRACKED,) * 2 if i < N else \
                (TrackState.TRACKED, TrackState.TERMINATED)
            skeletons.publish(skeletons_msg(i, people, states))
            assert io.wait_for('risk_markers', i + 1, timeout=30), graph.logs()   # lock-step: nothing dropped
            assert io.wait_for('skeleton_markers', i + 1, timeout=30), graph.logs()
        time.sleep(1.0)                                   # let the recorder store the last messages
    records = io.messages['skeleton_markers'] + io.messages['risk_markers']

    # stable namespace and id per track, the track's colour, the camera frame, in every frame
    expected = {('skeleton_3d', t) for t in (1, 2)} | {(f'risk/{m}', t) for m in ('RULA', 'REBA') for t in (1, 2)}
    for i in range(N):
        frame = [m for _, msg in records for m in msg.markers if time_from_msg(m.header.stamp) == i * PERIOD_NS]
        assert {(m.ns, m.id) for m in frame} == expected, i
        for m in frame:
            assert m.header.frame_id == FRAME and m.action == m.ADD
            b, g, r = track_color(m.id)
            assert np.allclose([m.color.r, m.color.g, m.color.b], [r / 255, g / 255, b / 255], atol=1e-6)

    before, after = replay(records, (N - 1) * PERIOD_NS), replay(records, N * PERIOD_NS)
    assert before.keys() == expected and before.other_frames == 0
    assert after.keys() == {k for k in expected if k[1] == 1}      # DELETE removed every marker of track 2
    camera = View.camera((photo.shape[1], photo.shape[0]), K=np.reshape(info.k, (3, 3)))
    dark_before, dark_after = render(before, camera), render(after, camera)

    for p in people:
        t = p.track_id
        bones = before.markers[('skeleton_3d', t)].points
        # the 3D joints land near the 2D joints they were lifted from (root placed from 2D + intrinsics)
        kp, conf = to_h36m(p)
        uv, _ = camera.project(np.unique(bones, axis=0))
        error = np.array([np.min(np.linalg.norm(uv - k, axis=1)) for k, c in zip(kp, conf) if c > 0.5])
        height = p.bbox[3] - p.bbox[1]
        print(f'\ntrack {t}: 2D-3D reprojection median {np.median(error):.1f} px (person {height:.0f} px tall)')
        assert np.median(error) < 0.1 * height
        # every bone is drawn in the track's colour: its midpoint pixel has that colour
        mids, _ = camera.project((bones[0::2] + bones[1::2]) / 2)
        mask = mask_of(dark_before, t)
        hits = [mask[int(round(v)) - 1:int(round(v)) + 2, int(round(u)) - 1:int(round(u)) + 2].any() for u, v in mids]
        assert len(hits) >= 12 and np.mean(hits) >= 0.9, hits
        # the risk labels are above the head, say which track and method, and are drawn in the track's colour
        head_v = camera.project(bones[np.argmin(bones[:, 1])][None])[0][0, 1]
        for method in ('RULA', 'REBA'):
            label = before.markers[(f'risk/{method}', t)]
            assert label.kind == 'text' and label.text.startswith(f'#{t} {method} ')
            (u, v), = camera.project(label.points)[0]
            assert v < head_v, (t, method, v, head_v)
            row = mask[max(0, int(v) - 8):int(v) + 8]      # labels are shifted sideways to stay in the picture
            assert row.sum() >= 30, (t, method, row.sum())
    # after TERMINATED: track 2 has no pixel left, track 1 is untouched
    assert mask_of(dark_before, 2).sum() > 500 and mask_of(dark_after, 2).sum() == 0
    assert mask_of(dark_after, 1).sum() == mask_of(dark_before, 1).sum()

    # the same scene from the recorder's MCAP bag through the CLI, before and after the track ended
    from nvb_perception.io.bag import BagReader, deserialize
    from nvb_perception.tools.render_markers import replay as replay_bag
    recorded = list(BagReader(bag).messages())
    ended_ns = min(r.stamp_ns for r in recorded if r.msgtype == MARKERS and
                   any(m.action == 2 for m in deserialize(r).markers))          # the first DELETE
    from_bag_before = replay_bag(bag, time_s=(ended_ns - recorded[0].stamp_ns) * 1e-9 - 1e-6)[0]
    from_bag_after = replay_bag(bag)[0]
    assert from_bag_before.keys() == expected and from_bag_after.keys() == after.keys()
    out_png = tmp_path / 'cli_scene.png'
    cli = subprocess.run([sys.executable, '-m', 'nvb_perception.tools.render_markers', str(bag), '--out',
                          str(out_png), '--topics', 'skeleton_markers,risk_markers'],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and 'wrote' in cli.stdout, cli.stderr
    from_cli = cv2.imread(str(out_png))
    assert from_cli.shape[0] == TITLE_BAR_PX + photo.shape[0]
    assert np.array_equal(from_cli[TITLE_BAR_PX:, :photo.shape[1]], dark_after)    # the camera panel, pixel for pixel

    # the picture a person looks at: over the photo and from the side, before and after track 2 ended
    side = View.side(before.points(), (800, photo.shape[0]))
    rows = [np.hstack([render(s, camera, background=photo, title=f'camera view, {when}'),
                       render(s, side, title=side.name)]) for s, when in ((before, f'frame {N - 1}'),
                                                                           (after, f'frame {N}: track 2 ended'))]
    picture = np.vstack(rows)
    for path in (tmp_path / 'rviz_scene.png', ROOT / 'out' / 'rviz_scene.png'):
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), picture)
