"""`nvb-perception run`: bad command lines, several cameras by namespace, one process, faults and slow readers."""
import os
import signal
import subprocess
import sys
import time

import pytest

from nvb_perception.io.bag import BagReader
from nvb_perception.launcher.cli import parse_overrides
from nvb_perception.launcher.processes import TopicListener, child_processes

RISK = 'nvb_perception_msgs/msg/ErgonomicRiskArray'
SKELETONS_2D = 'nvb_perception_msgs/msg/Skeleton2DArray'
FAST = ['--set', 'pose_node.image_qos=reliable', '--set', 'pose_node.publish_overlay=false', '--status', '0']


_RUNNERS = []          # the runners of the current test, ended by the autouse fixture below


def runner(args, log_dir, **kwargs) -> subprocess.Popen:
    """`nvb-perception run` in its own process group, ended at teardown whatever the test's outcome."""
    proc = subprocess.Popen([sys.executable, '-m', 'nvb_perception.launcher.cli', 'run', '--log-dir', str(log_dir)]
                            + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)
    _RUNNERS.append(proc)
    return proc


def finish(proc, timeout=120, grace=60) -> tuple[int, str]:
    """Wait for the runner to end; past timeout, SIGINT (it stops its nodes), past grace SIGKILL its group."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)      # its nodes are ended by the ros_isolation fixture
            out, _ = proc.communicate()
    return proc.returncode, out


@pytest.fixture(autouse=True)
def end_runners():
    """A runner still going when its test ends (timeout, failed assertion) is stopped like with Ctrl-C."""
    yield
    while _RUNNERS:
        proc = _RUNNERS.pop()
        if proc.poll() is None:
            finish(proc, timeout=0.1)


@pytest.mark.parametrize('args, message', [
    (['--stages', 'pose,teleport'], "unknown stages ['teleport']"),
    (['--video', '/nonexistent.avi'], '--video /nonexistent.avi: no such file'),
    (['--camera', 'cam0', '--camera', 'cam0/'], 'two cameras share a namespace'),
    (['--camera', '0cam'], 'the namespace must be letters'),
    (['--set', 'pose_node.max_people'], 'expected NODE.PARAM=VALUE'),
    (['--set', 'teleporter.speed=3'], "unknown nodes ['teleporter']"),
    (['--params', '/nonexistent.yaml'], '--params /nonexistent.yaml: no such file'),
])
def test_bad_command_lines_exit_2_with_one_line(args, message, tmp_path):
    code, out = finish(runner(args, tmp_path), timeout=60)
    assert code == 2 and message in out and 'Traceback' not in out, out


def test_overrides_parse_like_ros_values():
    assert parse_overrides(['pose_node.max_people=2', 'risk_node.methods=[RULA]', 'cue_node.use_image=false',
                            'video_publisher.source=a b.avi']) == {
        'pose_node': {'max_people': 2}, 'risk_node': {'methods': ['RULA']}, 'cue_node': {'use_image': False},
        'video_publisher': {'source': 'a b.avi'}}


@pytest.mark.slow
def test_two_cameras_by_namespace_recorded(assets, tmp_path):
    """Two cameras (namespaces cam0, cam1) each get their own graph; one recorder bags both."""
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    bag = tmp_path / 'run_bag'
    args = ['--camera', 'cam0', '--camera', 'cam1', '--video', str(video), '--stages', 'pose,lifting,risk',
            '--record', str(bag), '--set', 'video_publisher.max_frames=15', '--set', 'video_publisher.rate=0.5',
            '--set', 'video_publisher.wait_for_subscribers=1'] + FAST
    topics = {f'/{cam}/ergonomic_risk': RISK for cam in ('cam0', 'cam1')}
    with TopicListener(topics) as io:
        code, out = finish(runner(args, tmp_path / 'logs'), timeout=240)
        counts = {t: io.count(t) for t in topics}
    assert code == 0, out
    assert 'every video finished' in out and all(n >= 5 for n in counts.values()), (counts, out)
    assert '/cam0/pose_node' in out and '/cam1/risk_node' in out and 'latency p95 ms' in out, out   # status table
    recorded = BagReader(bag).topics()
    for cam in ('cam0', 'cam1'):
        for topic in ('skeletons_2d', 'skeletons_3d', 'ergonomic_risk', 'camera_info'):
            assert f'/{cam}/{topic}' in recorded, recorded


@pytest.mark.slow
def test_single_process_graph(assets, tmp_path):
    """--single-process: every node in one process on one executor gives the same topics."""
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    args = ['--single-process', '--video', str(video), '--stages', 'pose,lifting,risk', '--set',
            'video_publisher.max_frames=15', '--set', 'video_publisher.rate=1',       # a whole number for a float
            '--set', 'video_publisher.wait_for_subscribers=2'] + FAST                 # pose_node and this test
    with TopicListener({'ergonomic_risk': RISK, 'image': 'sensor_msgs/msg/Image'}) as io:
        proc = runner(args, tmp_path)
        assert io.wait_for('ergonomic_risk', 1, timeout=180), 'graph did not start'   # every node is up by now
        nodes = child_processes(proc.pid)
        code, out = finish(proc, timeout=240)
        n = io.count('ergonomic_risk')
    assert code == 0 and n >= 5, out
    assert not any(name.endswith('_node') for name in nodes.values()), nodes


def _wait_child(pid, name, timeout=120, other_than=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = [p for p, n in child_processes(pid).items() if n == name and p != other_than]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f'{name} not started')


@pytest.mark.slow
def test_killed_node_is_restarted_and_the_graph_recovers(assets, tmp_path):
    """Kill lifting_node mid-stream: pose keeps publishing meanwhile, --respawn restarts it, risk resumes."""
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    args = ['--respawn', '--video', str(video), '--stages', 'pose,lifting,risk', '--set', 'video_publisher.loop=true',
            '--set', 'video_publisher.max_frames=40', '--duration', '120'] + FAST
    with TopicListener({'ergonomic_risk': RISK, 'skeletons_2d': SKELETONS_2D}) as io:
        proc = runner(args, tmp_path)
        try:
            victim = _wait_child(proc.pid, 'lifting_node')
            assert io.wait_for('ergonomic_risk', 5, timeout=90), 'graph did not start'
            os.kill(victim, signal.SIGKILL)
            killed_at, poses_then = time.monotonic(), io.count('skeletons_2d')
            _wait_child(proc.pid, 'lifting_node', other_than=victim)       # the killed one stays a zombie a moment
            risk_then = io.count('ergonomic_risk')
            assert io.wait_for('ergonomic_risk', risk_then + 5, timeout=90), 'risk did not resume'
            assert io.count('skeletons_2d') > poses_then + 5, 'the camera path stalled while a node was down'
            recovery_s = time.monotonic() - killed_at
        finally:
            proc.send_signal(signal.SIGINT)
            code, out = finish(proc, timeout=60)
    assert 'restarting lifting_node (restart 1)' in out, out
    assert code == 0 and recovery_s < 90, out


@pytest.mark.slow
def test_slow_consumer_never_blocks_the_camera(assets, tmp_path):
    """A reliable image reader that takes 0.5 s per message: the camera and pose keep their rate."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    args = ['--video', str(video), '--stages', 'pose', '--set', 'video_publisher.max_frames=60',
            '--set', 'video_publisher.wait_for_subscribers=2'] + FAST
    with TopicListener({'skeletons_2d': SKELETONS_2D}) as io, TopicListener({}) as reader:
        slow = []
        reader.node.create_subscription(Image, 'image', lambda m: (slow.append(1), time.sleep(0.5)),
                                    QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        started = time.monotonic()
        code, out = finish(runner(args, tmp_path), timeout=180)
        stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in io.messages['skeletons_2d']]
    assert code == 0, out
    # 60 frames at vtest's 10 fps is 6 s of camera time; a blocked camera would need >= 60 x 0.5 s = 30 s
    assert max(stamps) - min(stamps) < 9.0 and time.monotonic() - started < 60, (len(stamps), out)
    assert len(stamps) >= 20 and len(slow) < 30, (len(stamps), len(slow))
