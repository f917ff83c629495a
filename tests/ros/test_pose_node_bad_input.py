"""pose_node keeps running on bad input: each bad frame is dropped with a warning and counted in /diagnostics."""
import time

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from nvb_perception.imaging import encode_compressed, numpy_to_image_fields
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener

TOPICS = {'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray',
          '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}


def image(arr, enc='bgr8', stamp_s=1, **override):
    msg = Image(**numpy_to_image_fields(arr, enc))
    msg.header.stamp.sec = stamp_s
    msg.header.frame_id = 'cam'
    for key, value in override.items():
        setattr(msg, key, value)
    return msg


def diagnostics_value(listener, key):
    for _, arr in reversed(listener.messages['/diagnostics']):
        for status in arr.status:
            if status.name.endswith('pose_node'):
                values = {kv.key: kv.value for kv in status.values}
                if key in values:
                    return values[key]
    return None


def send_and_wait(listener, pub, msg, n_before):
    pub.publish(msg)
    return listener.wait_for('skeletons_2d', n_before + 1, timeout=20)


@pytest.mark.slow
def test_bad_raw_frames(assets, log_dir):
    messi = cv2.imread(str(assets / 'data' / 'opencv' / 'messi5.jpg'))
    node = NodeProcess('pose_node', {'image_qos': 'reliable', 'max_people': 2})
    with TopicListener(TOPICS) as io, ProcessGraph([node], log_dir) as graph:
        pub = io.publisher('image', 'sensor_msgs/msg/Image', depth=50)
        assert io.wait_for_subscribers(pub), graph.logs()
        bad = [
            image(messi, stamp_s=2, encoding='bayer_grbg8'),                          # unknown encoding
            image(messi, stamp_s=3, data=bytes(100)),                                  # truncated
            image(messi, stamp_s=4, step=7),                                            # wrong step
            Image(height=0, width=0, encoding='bgr8'),                                 # 0x0
        ]
        for msg in bad:
            pub.publish(msg)
            time.sleep(0.3)
        n = io.count('skeletons_2d')
        # frames that are odd but valid still produce a message each
        assert send_and_wait(io, pub, image(np.zeros((480, 640, 3), np.uint8), stamp_s=10), n), graph.logs()
        assert send_and_wait(io, pub, image(np.zeros((8, 8, 3), np.uint8), stamp_s=11), n + 1), graph.logs()
        big = cv2.resize(messi, (7680, 4320))
        assert send_and_wait(io, pub, image(big, stamp_s=12), n + 2), graph.logs()
        assert send_and_wait(io, pub, image(messi, stamp_s=5), n + 3), graph.logs()   # time going backwards
        rgb = np.ascontiguousarray(messi[..., ::-1])
        assert send_and_wait(io, pub, image(rgb, 'rgb8', stamp_s=13), n + 4), graph.logs()
        time.sleep(1.5)
        assert node.process.poll() is None, graph.logs()
        dropped = diagnostics_value(io, 'frames_dropped')
    frames = [m for _, m in io.messages['skeletons_2d']]
    assert [m.header.stamp.sec for m in frames[-5:]] == [10, 11, 12, 5, 13]
    assert len(frames[-5].skeletons) == 0                     # nobody in a black frame
    assert any(len(m.skeletons) for m in frames[-3:])         # messi found again after all that
    assert dropped == str(len(bad)), graph.logs()
    log = node.log()
    # warnings are throttled (one per 5 s): the first bad frame's reason is logged, the rest are counted
    assert 'unsupported image encoding' in log and 'Traceback' not in log


@pytest.mark.slow
def test_corrupt_compressed_frames(assets, log_dir):
    messi = cv2.imread(str(assets / 'data' / 'opencv' / 'messi5.jpg'))
    node = NodeProcess('pose_node', {'image_qos': 'reliable', 'image_transport': 'compressed'})
    with TopicListener(TOPICS) as io, ProcessGraph([node], log_dir) as graph:
        pub = io.publisher('image/compressed', 'sensor_msgs/msg/CompressedImage')
        assert io.wait_for_subscribers(pub), graph.logs()
        jpeg = encode_compressed(messi)
        pub.publish(CompressedImage(format='jpeg', data=jpeg[:len(jpeg) // 3]))
        time.sleep(0.3)
        pub.publish(CompressedImage(format='jpeg', data=b''))
        time.sleep(0.3)
        good = CompressedImage(format='jpeg', data=jpeg)
        good.header.stamp.sec = 7
        assert send_and_wait(io, pub, good, 0), graph.logs()
        assert node.process.poll() is None
    assert len(io.messages['skeletons_2d'][0][1].skeletons) >= 1
    assert 'corrupt compressed image' in node.log() and 'Traceback' not in node.log()
