"""risk_node as a managed node: with autostart:=false nothing is scored until configure + activate; launch argument."""
import time

import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.nodes import STAGES
from tests.ros.test_lifecycle import _state, _transition
from tests.ros.test_risk_node import frame, standing
from tests.unit.test_launch_files import ROOT, launched

TOPICS = {'ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray'}


@pytest.mark.integrators
def test_risk_node_waits_for_the_lifecycle_manager(log_dir):
    node = NodeProcess('risk_node', {'autostart': False, 'methods': ['RULA']})
    with TopicListener(TOPICS) as io, ProcessGraph([node], log_dir) as graph:
        change = io.node.create_client(ChangeState, '/risk_node/change_state')
        get = io.node.create_client(GetState, '/risk_node/get_state')
        skeletons = io.publisher('skeletons_3d', 'nvb_perception_msgs/msg/Skeleton3DArray')
        assert io.wait_for_subscribers(skeletons, timeout=60) and io.wait_for_publishers('ergonomic_risk'), graph.logs()
        stamp = [0]

        def send_and_count(wait_s):
            stamp[0] += 1
            before = io.count('ergonomic_risk')
            skeletons.publish(frame(stamp[0] * 100_000_000, [(1, standing(), 1)]))
            io.wait_for('ergonomic_risk', before + 1, timeout=wait_s)
            return io.count('ergonomic_risk') - before

        assert _state(io, get) == 'unconfigured'
        assert send_and_count(2.0) == 0                                  # unconfigured: nothing comes out
        assert _transition(io, change, Transition.TRANSITION_CONFIGURE), graph.logs()
        assert _state(io, get) == 'inactive' and send_and_count(2.0) == 0
        assert _transition(io, change, Transition.TRANSITION_ACTIVATE)
        assert _state(io, get) == 'active'
        assert send_and_count(20.0) == 1, graph.logs()
        assert _transition(io, change, Transition.TRANSITION_DEACTIVATE)
        assert send_and_count(2.0) == 0
        assert _transition(io, change, Transition.TRANSITION_CLEANUP)
        assert _transition(io, change, Transition.TRANSITION_CONFIGURE)
        assert _transition(io, change, Transition.TRANSITION_ACTIVATE)
        assert send_and_count(20.0) == 1, graph.logs()
        time.sleep(0.2)
        assert node.process.poll() is None, graph.logs()


@pytest.mark.integrators
def test_risk_node_with_autostart_scores_at_once(log_dir):
    """The default keeps plain-node behaviour: the first frame after start is scored, the state is active."""
    node = NodeProcess('risk_node', {'methods': ['RULA']})
    with TopicListener(TOPICS) as io, ProcessGraph([node], log_dir) as graph:
        get = io.node.create_client(GetState, '/risk_node/get_state')
        skeletons = io.publisher('skeletons_3d', 'nvb_perception_msgs/msg/Skeleton3DArray')
        assert io.wait_for_subscribers(skeletons, timeout=60) and io.wait_for_publishers('ergonomic_risk'), graph.logs()
        assert _state(io, get) == 'active'
        skeletons.publish(frame(100_000_000, [(1, standing(), 1)]))
        assert io.wait_for('ergonomic_risk', 1, timeout=20), graph.logs()


@pytest.mark.integrators
def test_launch_file_passes_autostart_to_every_stage_node():
    arguments, nodes = launched(ROOT / 'launch' / 'perception.launch.py')
    assert arguments['autostart'].kwargs['default_value'] == 'true'
    by_exe = {n.kwargs['executable']: n for n in nodes}
    for spec in STAGES.values():
        params = [p for p in by_exe[spec.executable].kwargs['parameters'] if isinstance(p, dict)]
        assert params[-1]['autostart'].args == ('autostart',), spec.node        # LaunchConfiguration('autostart')
    assert not any(isinstance(p, dict) and 'autostart' in p for p in by_exe['video_publisher'].kwargs['parameters'])
