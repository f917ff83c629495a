"""lifting_node as a process with a registered depth camera: the depth sets the published root, over DDS.

A mocap pose, scaled to a 1.15x tall person, is projected into a 640x480 camera 3.5 m away; the depth image
(16UC1, mm) is rendered from the same skeleton. Frames without a depth image of their stamp keep the monocular
root (which the unusual size puts too near); frames with one get the rendered distance.
"""
import time

import numpy as np
import pytest
from sensor_msgs.msg import Image

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.lifting.camera import look_at, world_to_camera
from nvb_perception.ros.convert import skeleton2d_frame_to_msg, skeleton3d_frame_from_msg, time_to_msg
from nvb_perception.ros.video_publisher import camera_info
from nvb_perception.skeleton import H36M
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Stamp, TrackState

pytestmark = [pytest.mark.integrators, pytest.mark.slow]

SIZE = (640, 480)
FRAMES, WITH_DEPTH_FROM = 16, 8
PERIOD_NS = 100_000_000
OFFSET = 0.1                  # lifting_node's default depth_surface_offset_m


def scene(assets):
    """(T, 17, 3) optical-frame joints of a 1.15x scaled mocap person 3.5 m from the camera, and K."""
    from nvb_perception.datasets.bvh import load_h36m
    world = load_h36m(assets / 'data' / 'bvh' / 'test.bvh').positions[:FRAMES * 4:4]
    pelvis = world[0, H36M.PELVIS]
    world = (world - pelvis) * 1.15 + pelvis
    left = world[0, H36M.LEFT_HIP] - world[0, H36M.RIGHT_HIP]
    forward = np.cross(left, [0.0, 0.0, 1.0])
    forward[2] = 0.0
    position = pelvis + 3.5 * forward / np.linalg.norm(forward) + [0.0, 0.0, 0.2]     # in front of the person
    rotation = look_at(position[None], pelvis[None])
    points = world_to_camera(world[None], rotation, position[None])[0]
    info = camera_info(SIZE[0], SIZE[1], 70.0, 'camera_optical_frame')
    return points, info, np.asarray(info.k).reshape(3, 3)


def project(points, k):
    uvw = points @ k.T
    return uvw[:, :2] / uvw[:, 2:]


def render_mm(points, k, radius=5):
    """16UC1 depth of the body surface (OFFSET in front of each joint), a wall at 6 m behind."""
    depth = np.full((SIZE[1], SIZE[0]), 6.0)
    yy, xx = np.mgrid[:SIZE[1], :SIZE[0]]
    for j in np.argsort(-points[:, 2]):
        u, v = project(points[j:j + 1], k)[0]
        depth[(xx - u) ** 2 + (yy - v) ** 2 <= radius ** 2] = points[j, 2] - OFFSET
    return np.round(depth * 1000).astype(np.uint16)


def test_depth_image_sets_the_root(assets, log_dir):
    points, info, k = scene(assets)
    info.distortion_model, info.d = 'some_unknown_model', [0.2, 0.0, 0.0, 0.0, 0.0]   # warned once, not used
    node = NodeProcess('lifting_node', {'use_depth': True, 'depth_qos': 'reliable'})
    topics = {'skeletons_3d': 'nvb_perception_msgs/msg/Skeleton3DArray'}
    with TopicListener(topics) as io, ProcessGraph([node], log_dir) as graph:
        skeletons = io.publisher('skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray')
        depths = io.publisher('depth/image_rect_raw', 'sensor_msgs/msg/Image')
        infos = io.publisher('camera_info', 'sensor_msgs/msg/CameraInfo')
        assert io.wait_for_subscribers(skeletons, timeout=60) and io.wait_for_subscribers(depths), graph.logs()
        assert io.wait_for_subscribers(infos) and io.wait_for_publishers('skeletons_3d'), graph.logs()
        time.sleep(0.5)
        for i in range(FRAMES):
            stamp = Stamp(i * PERIOD_NS, 'camera_optical_frame')
            info.header.stamp, info.header.frame_id = time_to_msg(stamp.stamp_ns), stamp.frame_id
            infos.publish(info)
            if i >= WITH_DEPTH_FROM:
                msg = Image(**numpy_to_image_fields(render_mm(points[i], k), '16UC1'))
                msg.header = info.header
                depths.publish(msg)
            time.sleep(0.1)
            s = Skeleton2D(project(points[i], k), np.ones(17), joint_set='h36m17', track_id=1,
                           track_state=TrackState.NEW if i == 0 else TrackState.TRACKED)
            skeletons.publish(skeleton2d_frame_to_msg(Skeleton2DFrame(stamp, SIZE, (s,))))
            assert io.wait_for('skeletons_3d', i + 1, timeout=30), graph.logs()
        assert node.process.poll() is None, graph.logs()
        logs = graph.logs()
    frames = [skeleton3d_frame_from_msg(m) for _, m in io.messages['skeletons_3d']]
    assert [f.stamp.stamp_ns for f in frames] == [i * PERIOD_NS for i in range(FRAMES)]
    z = np.array([f.skeletons[0].positions[H36M.PELVIS, 2] for f in frames])
    truth = points[:, H36M.PELVIS, 2]
    assert not any(f.skeletons[0].root_relative for f in frames)
    mono, measured = np.abs(z - truth)[:WITH_DEPTH_FROM], np.abs(z - truth)[WITH_DEPTH_FROM:]
    print(f'\nroot z error: monocular {mono.mean():.3f} m (max {mono.max():.3f}), with depth {measured.mean():.3f} m '
          f'(max {measured.max():.3f})')
    assert measured.max() < 0.05, (z, truth)
    assert mono.min() > 0.15, (z, truth)            # the tall person lands too near without depth
    assert logs.count('unknown distortion model') == 1, logs
