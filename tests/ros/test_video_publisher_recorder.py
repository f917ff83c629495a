"""Two node executables over DDS: video_publisher plays the real vtest.avi into the recorder's MCAP bag."""
import time

import numpy as np
import pytest

from nvb_perception.imaging import image_fields_to_bgr8
from nvb_perception.io.bag import BagReader, deserialize
from nvb_perception.io.video import iter_video_frames
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph


@pytest.mark.slow
def test_video_to_bag_over_dds(assets, tmp_path, log_dir):
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    bag = tmp_path / 'camera_bag'
    n = 20
    # explicit types: subscribed at start, not when the publisher shows up on the graph
    topics = ['image:sensor_msgs/msg/Image', 'camera_info:sensor_msgs/msg/CameraInfo']
    recorder = NodeProcess('recorder', {'output': str(bag), 'topics': topics})
    player = NodeProcess('video_publisher', {'source': str(video), 'max_frames': n, 'rate': 4.0,
                                             'stamp': 'source', 'wait_for_subscribers': 1})
    with ProcessGraph([recorder, player], log_dir) as graph:
        assert player.wait(60) == 0, graph.logs()
        time.sleep(0.5)
        assert recorder.stop() == 0, graph.logs()     # SIGINT: the bag is closed cleanly
    records = list(BagReader(bag).messages(['/image']))
    assert len(records) == n, graph.logs()
    expected = [f.bgr for f in iter_video_frames(video, max_frames=n)]
    for i, record in enumerate(records):
        msg = deserialize(record)
        assert msg.header.frame_id == 'camera_optical_frame'
        # stamp = the frame's time in the video (10 fps file), so bags are reproducible
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == i * 100_000_000
        np.testing.assert_array_equal(image_fields_to_bgr8(msg), expected[i])
    infos = [deserialize(r) for r in BagReader(bag).messages(['/camera_info'])]
    assert infos and (infos[0].width, infos[0].height) == (768, 576)


def test_bad_configuration_fails_at_start_with_a_clear_message(tmp_path, log_dir):
    bad = NodeProcess('video_publisher', {'source': str(tmp_path / 'missing.avi')})
    with ProcessGraph([bad], log_dir):
        code = bad.wait(30)
    assert code == 2
    log = bad.log()
    assert 'no such video' in log and 'Traceback' not in log


def test_recorder_refuses_an_existing_bag(tmp_path, log_dir):
    (tmp_path / 'bag').mkdir()
    rec = NodeProcess('recorder', {'output': str(tmp_path / 'bag'), 'topics': ['image']})
    with ProcessGraph([rec], log_dir):
        assert rec.wait(30) == 2
    assert 'already exists' in rec.log() and 'Traceback' not in rec.log()
