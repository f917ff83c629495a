"""Two hosts: the camera in one network namespace, the perception graph in another, joined by a veth pair.

The test creates both namespaces and the veth pair (private addresses that exist only inside them) and deletes
them afterwards, so discovery can use the "network" (SUBNET range, UDP only: no shared memory shortcut) without
a packet leaving the machine. Needs root (CAP_NET_ADMIN) and iproute2; skipped otherwise.
"""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from nvb_perception.io.bag import BagReader
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph

SUBNET = '10.213.47.{}/24'


def _ip(*args):
    subprocess.run(['ip', *args], check=True, capture_output=True, text=True, timeout=20)


@pytest.fixture
def two_hosts():
    """(camera namespace, graph namespace, the graph end of the veth), created here and removed afterwards."""
    if os.geteuid() != 0 or shutil.which('ip') is None:
        pytest.skip('network namespaces need root and iproute2')
    tag = uuid.uuid4().hex[:6]
    hosts, veth = (f'nvb-cam-{tag}', f'nvb-gph-{tag}'), (f'vc{tag}', f'vg{tag}')
    try:
        _ip('netns', 'add', hosts[0])
    except (subprocess.CalledProcessError, OSError) as error:
        pytest.skip(f'cannot create network namespaces here: {getattr(error, "stderr", error)}')
    try:
        _ip('netns', 'add', hosts[1])
        _ip('link', 'add', veth[0], 'netns', hosts[0], 'type', 'veth', 'peer', 'name', veth[1], 'netns', hosts[1])
        for i, (host, dev) in enumerate(zip(hosts, veth), start=1):
            for cmd in (['addr', 'add', SUBNET.format(i), 'dev', dev], ['link', 'set', dev, 'up', 'multicast', 'on'],
                        ['link', 'set', 'lo', 'up'], ['route', 'add', '224.0.0.0/4', 'dev', dev]):
                _ip('-n', host, *cmd)
        yield hosts + (veth[1],)
    finally:
        for host in hosts:                          # deleting a namespace deletes its end of the veth pair
            subprocess.run(['ip', 'netns', 'del', host], capture_output=True, timeout=20)


@pytest.mark.slow
def test_camera_on_one_host_graph_on_another(two_hosts, assets, tmp_path):
    camera_host, graph_host, graph_veth = two_hosts
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='SUBNET', ROS_LOCALHOST_ONLY='0',
               FASTDDS_BUILTIN_TRANSPORTS='UDPv4')     # only the veth and lo exist in these namespaces
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    bag = tmp_path / 'remote_bag'
    frames = 20
    camera = NodeProcess('video_publisher', {'source': str(assets / 'data' / 'opencv' / 'vtest.avi'),
                                             'max_frames': frames, 'rate': 1.0, 'wait_for_subscribers': 1,
                                             # lock-step over the link: no frame skipped however loaded the machine
                                             'wait_for': 'ergonomic_risk', 'wait_timeout_s': 30.0},
                         wrapper=['ip', 'netns', 'exec', camera_host])
    # typed topics: the recorder subscribes at start instead of when it happens to discover each publisher
    topics = ['skeletons_2d:nvb_perception_msgs/msg/Skeleton2DArray',
              'ergonomic_risk:nvb_perception_msgs/msg/ErgonomicRiskArray']
    graph = [NodeProcess('recorder', {'output': str(bag), 'topics': topics}),
             NodeProcess('pose_node', {'image_qos': 'reliable', 'detector_tile_px': 288}),
             NodeProcess('lifting_node'), NodeProcess('risk_node')]
    for node in graph:
        node.wrapper = ['ip', 'netns', 'exec', graph_host]
    with ProcessGraph(graph, tmp_path / 'graph', env=env) as remote:
        with ProcessGraph([camera], tmp_path / 'camera', env=env):
            code = camera.wait(timeout=150)
            assert code == 0, camera.log() + remote.logs()
        time.sleep(5.0)                             # let the last frames through the graph
        stats = subprocess.run(['ip', '-n', graph_host, '-s', '-j', 'link', 'show', 'dev', graph_veth],
                               capture_output=True, text=True, check=True).stdout
    rx_bytes = json.loads(stats)[0]['stats64']['rx']['bytes']
    # the images really crossed the veth (UDP), not a same-machine shortcut: 768x576 bgr8 is 1.3 MB a frame
    assert rx_bytes > frames // 2 * 768 * 576 * 3, rx_bytes
    counts = {t: 0 for t in ('/skeletons_2d', '/ergonomic_risk')}
    for record in BagReader(bag).messages(list(counts)):
        counts[record.topic] += 1
    assert counts['/skeletons_2d'] >= frames - 1 and counts['/ergonomic_risk'] >= frames - 1, \
        (counts, remote.logs())
