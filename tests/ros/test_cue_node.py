"""cue_node as a separate process on real frames: the smiling astronaut over DDS -> smile cue events."""
import sys
import time

import numpy as np
import pytest
from sensor_msgs.msg import Image

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.ros.convert import cue_frame_from_msg, skeleton2d_frame_to_msg, time_to_msg
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Stamp, TrackState

FRAMES = 16
PERIOD_NS = 100_000_000            # 10 Hz source stamps


class ModuleNode(NodeProcess):
    """The node by module (the console script exists only after setup.py registers cue_node)."""

    def command(self) -> list[str]:
        try:
            return super().command()
        except Exception:           # noqa: BLE001 - executable not installed yet: run the module instead
            args = [sys.executable, '-m', 'nvb_perception.ros.cue_node', '--ros-args']
            for key, value in self.params.items():
                args += ['-p', f'{key}:={str(value).lower() if isinstance(value, bool) else value}']
            return args


@pytest.fixture(scope='module')
def astronaut(astronaut_pose):
    return astronaut_pose


@pytest.mark.slow
def test_cue_node_smile_over_dds(astronaut, log_dir):
    bgr, skeleton = astronaut
    node = ModuleNode('cue_node', {'use_skeletons_3d': False, 'baseline.mode': 'fixed', 'image_qos': 'reliable',
                                   'max_people': 1})
    topics = {'cues': 'nvb_perception_msgs/msg/CueArray'}
    with TopicListener(topics) as io, ProcessGraph([node], log_dir) as graph:
        images = io.publisher('image', 'sensor_msgs/msg/Image')
        skeletons = io.publisher('skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray')
        assert io.wait_for_subscribers(skeletons, timeout=60) and io.wait_for_subscribers(images), graph.logs()
        for i in range(FRAMES + 1):
            stamp = Stamp(i * PERIOD_NS, 'camera_optical_frame')
            msg = Image(**numpy_to_image_fields(bgr, 'bgr8'))
            msg.header.stamp, msg.header.frame_id = time_to_msg(stamp.stamp_ns), stamp.frame_id
            images.publish(msg)
            time.sleep(0.02)
            state = TrackState.TERMINATED if i == FRAMES else (TrackState.NEW if i == 0 else TrackState.TRACKED)
            s = Skeleton2D(skeleton.keypoints, skeleton.confidence, track_id=3, track_state=state,
                           bbox=skeleton.bbox)
            skeletons.publish(skeleton2d_frame_to_msg(Skeleton2DFrame(stamp, (bgr.shape[1], bgr.shape[0]), (s,))))
            time.sleep(0.15)
        assert io.wait_for('cues', FRAMES + 1, timeout=60), (io.count('cues'), graph.logs())
        assert node.process.poll() is None, graph.logs()
    frames = [cue_frame_from_msg(m) for _, m in io.messages['cues']]
    assert [f.stamp.stamp_ns for f in frames] == [i * PERIOD_NS for i in range(FRAMES + 1)]
    smiles = [c for f in frames for c in f.cues if c.name == 'smile']
    active = [c for c in smiles if c.active]
    assert active and all(c.track_id == 3 for c in smiles), [(c.name, c.active) for f in frames for c in f.cues]
    names = dict(active[-1].evidence)
    assert names['bs.mouthSmileLeft'] > 0.5 and 'face.presence' in names and 'smile' in active[-1].explanation
    ended = [c for c in smiles if not c.active]
    assert len(ended) == 1 and ended[0].end_ns > ended[0].start_ns >= 0
    assert not any(c.active for c in frames[-1].cues)            # TERMINATED closes every event
    assert all(np.isfinite(c.confidence) and 0 <= c.confidence <= 1 for f in frames for c in f.cues)
