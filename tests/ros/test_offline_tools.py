"""nvb-process-video / nvb-process-bag: bag + overlay + CSV, deterministic, and the same skeletons for a bag."""
import csv

import cv2
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.io.bag import BagReader, BagWriter
from nvb_perception.io.video import iter_video_frames
from nvb_perception.offline import process_bag, process_video
from nvb_perception.ros.convert import skeleton2d_frame_from_msg, time_to_msg
from nvb_perception.ros.node_utils import message_class

N = 6


def skeleton_frames(bag):
    cls = message_class('nvb_perception_msgs/msg/Skeleton2DArray')
    return [skeleton2d_frame_from_msg(deserialize_message(r.raw, cls)) for r in BagReader(bag).messages()]


@pytest.mark.slow
def test_process_video_outputs_and_determinism(assets, tmp_path, capsys):
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    for run in ('a', 'b'):
        code = process_video.main([str(video), '--out', str(tmp_path / run), '--max-frames', str(N),
                                   '--tile-px', '288'] + (['--cues'] if run == 'a' else []))
        assert code == 0
    assert 'people per frame' in capsys.readouterr().out
    assert (tmp_path / 'a' / 'cues.csv').exists() and (tmp_path / 'a' / 'cue_timeline.png').exists()
    frames = skeleton_frames(tmp_path / 'a' / 'skeletons_bag')
    assert len(frames) == N and [f.stamp.stamp_ns for f in frames] == [i * 10**8 for i in range(N)]
    assert all(f.image_size == (768, 576) for f in frames) and any(f.skeletons for f in frames)
    rows = list(csv.DictReader(open(tmp_path / 'a' / 'skeletons.csv')))
    assert len(rows) == sum(len(f.skeletons) for f in frames) * 33
    assert (tmp_path / 'a' / 'skeletons.csv').read_text() == (tmp_path / 'b' / 'skeletons.csv').read_text()
    cap = cv2.VideoCapture(str(tmp_path / 'a' / 'overlay.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == N


@pytest.mark.slow
def test_process_bag_matches_process_video(assets, tmp_path):
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    camera = tmp_path / 'camera_bag'
    with BagWriter(camera) as bag:
        bag.add_topic('/cam/image_raw', 'sensor_msgs/msg/Image')
        for f in iter_video_frames(video, max_frames=N):
            msg = Image(**numpy_to_image_fields(f.bgr, 'bgr8'))
            msg.header.stamp, msg.header.frame_id = time_to_msg(f.stamp_ns), 'camera_optical_frame'
            bag.write('/cam/image_raw', f.stamp_ns, serialize_message(msg))
    assert process_bag.main([str(camera), '--out', str(tmp_path / 'from_bag'), '--tile-px', '288']) == 0
    assert process_video.main([str(video), '--out', str(tmp_path / 'from_video'), '--max-frames', str(N),
                               '--tile-px', '288']) == 0
    a = (tmp_path / 'from_bag' / 'skeletons.csv').read_text()
    assert a == (tmp_path / 'from_video' / 'skeletons.csv').read_text()


def test_bad_inputs_exit_2_with_a_message(tmp_path, capsys):
    assert process_video.main([str(tmp_path / 'nope.avi'), '--out', str(tmp_path / 'o')]) == 2
    assert 'not found' in capsys.readouterr().err
    (tmp_path / 'exists').mkdir()
    assert process_bag.main([str(tmp_path), '--out', str(tmp_path / 'exists')]) == 2
    assert 'not a rosbag2 bag' in capsys.readouterr().err
